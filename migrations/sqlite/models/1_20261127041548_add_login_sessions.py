from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "login_failures" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* One failed password check, kept briefly to throttle guessing per account. */;
CREATE INDEX IF NOT EXISTS "idx_login_failu_email_d80a1d" ON "login_failures" ("email", "created_at");
        CREATE TABLE IF NOT EXISTS "login_sessions" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "csrf_token" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "project_id" INT REFERENCES "projects" ("id") ON DELETE SET NULL,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
) /* A signed-in browser. The cookie holds a random token; only its SHA-256 is stored. */;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "login_failures";
        DROP TABLE IF EXISTS "login_sessions";"""


MODELS_STATE = (
    "eJztXWtT4zgW/SuqfBm6Cig6QGBntrYq0GGanQBdJOxOzdSUUWwl0eBIaUvukJrt/76S/I"
    "jf2CEJxqMPTSeSrmyfa+uecyUrf7Vm1EI2O7xBsxFy2BTPWz+Cv1oEzpD4kFG7D1pwPl/V"
    "yQIOR7bXPGynyuGIcQeaXFSNoc2QKLIQMx0855gSadAFFmTTEYWOBVyGnB8YgKaJGAOcAg"
    "jmDv0TmXwfLDCfiu8OtRHYe6QLgpxHQB3w6B3x8cOhPJ5FTXFATCab79ol+KuLDE4niE+R"
    "Iw7w++8t2a2s9Ptq/fGH+IKJhZ4Rky3k1/mTMcbItmKwYkuaqXKDL+eq7JrwK9VQXsjIMK"
    "ntzsiq8XzJp5SErTHhsnSCxOlCjmT33HElwsS1bd8fAejeya+aeKcYsbHQGLq29JO09k5g"
    "VdYyjNu7oTHoDQ2jlfJhYBHB3i8yKZH+F6fK1NVP5CkctD+enJ2cH3dOzkUTdZphydl379"
    "ArYDxDBc/tsPVd1UMOvRYK4xWo0oNpWC+n0MnGNWifQFacchLZAMciaIOCFbarWz4E0rul"
    "WtsCeAafDRuRCZ+Krx87BWj+p3t/+bl7v/ex80EekIqn1HuCb/2atqqSgK8ANh0kATEgT8"
    "P8SdRwPEPZUMctE4Bbvulh8GFb8G/z3hYXaN0Re+k/UwXQD69veoNh9+aLPNyMsa+2wq87"
    "7MmatipdJkr3km4KOwH/vR5+BvIr+O3utqfgpYxPHHXEVbvhby15TtDl1CB0YUAr8vgHpQ"
    "FqMa/7g5tRacyKG708dr0HF29k+FrhKoNHNVAjFhpRH1EZYsdPmfEgiM5xdK+og/CE/IKW"
    "CuRrcUaQmFmBwOc+D3437wzc78HdE5SuHncHLkJOEr2pxLWLK0bci5vdwWX3U6+VNRZsAN"
    "Uvq54aCmx8CMzGVt69I2g+LQRJNWK3sayhbZooCdumq2btWbIEEjhR+MgLkaedwD6D6Efc"
    "ks/y/SsrTfE5IpDwHwH6hpyl/EsE7WaCiYsW++AJLQEkFhgjZMnrAyNkUzJRNB09i67tJa"
    "AEBYQ9i+hv/gAZdF9z+zfk9ur/Ctw+aL87br9NcOO8vn1ehti3z/OZvazT1P7vSe1ThCk/"
    "BkWiQzyvE78/Lnzjq1/ukQ0VvLlhP55Iemd3Ql7kjz1JcI4NEXFeiVN3jgWXaipGfmh+JU"
    "YDr5emgqRozCsh6sk+mgpQwOdeB9FVpJemoLRN8aDkcIZyCGRyvmyQSnONaQFomtQl/Ccg"
    "iDiYQ8YWVJRiBhgXotMS1F3wd8gExQfQmVDSxhaYCuviGYFX9arVQb3UAZpBbFeRB6HBZv"
    "TB24IbUwft05MS6kC0ylUHqi6uDoLnw5BPQBWcU4YN1GPt09NSiJ8WIH6q9ZjWY1qPbYMl"
    "2nSCibEZxdGXfTVQdmyTL/pKNoMxrjRuPmeMqukytNHP4f7AgAACMVkh87+HYCho3licmc"
    "oGS5o3pQsiWJ6JAORADZqyrcwTE5lG9nlgFoncyjE0pawXpax/wjn8uBOWs5Ws89xBY/xc"
    "iVCGFo1j7ptfryOGocqMPWrTOIg7ZbRRJ18adVLKSPP0fOibxdNjnBIybrhsLb8nbTfgef"
    "+U6+L4d+LoAJNCTzvoG31ay89xS+3lOntZL3HcyYI8vXqsCavHgvxHhqKPpEbyJX00FfOy"
    "pL8jCAiwhFpmSj0fgks5byO+AuggMJMQin/IAqOlmsvxNLnAFBImepYmKQ2/qU4zXwqJ3O"
    "X+pcoMRurdkFhDRQrUhK+MF6JlrDayRDPRUOcEdpkTiLozhW6+pEqYNXIKpIx2Fa0KpkBS"
    "6jV3fXw+0vkL5MuhXDOKtQOQx9iJDigVOW7auoE6tklENx4+Kno7ZaydXWtne65Sy1wqkI"
    "GE1e50zVGtWYEWi1osarFYWSx6C1AzpGK4MjVfKK4WwJaY+SWg378ROk2IOF+ggUdsPcpp"
    "WAhkMDqgjoXkyr6Hh+tPYO/b2QfgElttByAEnmljcTDA5B/MGaCLDNm4rYO8PPcbk4ORmY"
    "OkUkxIjYKWEapc0Ep5JdmmkuiUQFRQna6LrUNps52ZptY/xy5RngPqSPLPyb+2NYNaMPwp"
    "rn7ssYNo3FeXrlVofQSSVqE7ABmTuZsR6YfoOS9jFRg04jYuEh29X4cxvRHguHfT/fVDTH"
    "P0725/DppHcL/s310k4KYur4j3ykIDvgbgM8ShHM/TkP97cHebDXnUJim0scnB/4CNWRlS"
    "W7PhpAB7CUYx9kmYE9FTdpDCPqAwZYfv0EAP3qUGb06fEGEGJmmQL/AkVxHHzNYSxHWD2t"
    "PD/2i3j4/P2kfHnfPTk7Oz0/OjUBinq4oU8sX1z1IkxxyRzkb4MNKs8bwE/DRzVNf4l8bf"
    "FvgQc2nMMpaWX9kU5sAfN0vAP5Z2788BBVh+unu46PfAl/ve5fXg2h/lw2SpqlTy9auNvb"
    "TFfa/b10vt/o5Za51e1enVRqVX9Qvrb/sCUohXRhY6imV+Ijrqt3IrlsKtphDhzvIQPPq3"
    "kEoVW4hQZwaFfEMWYNTfveqAmXQuCoSjHIwYIKILQCj4k+KcFUzbOMgrU9EoyOrrfHF98s"
    "WmGNHTQA/EzWHnBtTQqEmx9Lh91gnDqPxSFEEHN91+P833TTqboawJ9fzkWcSkCSmFXSfP"
    "NO9fyxXvjfd7606qhYSozSYDQ33d+mIc0EJKC6na8Pr9NYRUakzYALJN2wYtiWt0HKzT6h"
    "+1X8YVxLbroFaG/IrV7xdJMG8Xj7HXtMKrI9JCSJxwgy9ziswnuSXwnIORkEBjeym3AeZT"
    "h3JuIzBx5TIJMgFz5AR7hOWor031XEZyhftVra2r9Msf73yPsbeOotvfZUwT/XUY4bsg+i"
    "n+9IbxqOD9xeT+Ti/Fo2qvMnYBE6wFWQeYiAhBFww53p5BJqVPGIEpFdcgf4kKEovOgJqh"
    "/cnbiFKuFh187h60TzurPSqz9ibawhH0zkT1CkTKa5X3dYlb6Z1dEuEoY2cX5owNhVoVmO"
    "NWDYz8egsdHfbXy+89z7Hobg03xy21m2vt5rfKOtZskkT/WFwdES1I4+ofiyuTaKz9j8XV"
    "bBjYQGJcnAK4fej33yqH20UONqetrP17vZr9wv17V21e0sf5oGoFWi8FKvdN8jMkZXVRxK"
    "SBomgrPwEgH6oKCPvNG4jux6OjEuiKVvlb48q65DoewjMnF/PfyIqYvOqFrLqhvYs3st40"
    "Afz9//x6glQ="
)
