from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "end_users" ADD "hour_bucket" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_events" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_cost_nano" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_unpriced" BIGINT NOT NULL DEFAULT 0;
        CREATE INDEX "idx_end_users_project_83248a" ON "end_users" ("project_id", "hour_bucket");
        -- User hour rows not folded yet (from rollup_folds, level 3600) get their day rows now:
        -- from here on unfolded hours live in end_users and hour rows are always whole.
        INSERT INTO "user_rollups" ("project_id", "level", "bucket", "user_id", "events", "cost_nano", "unpriced")
            SELECT "project_id", 86400, "bucket" - "bucket" % 86400, "user_id", SUM("events"), SUM("cost_nano"), SUM("unpriced")
            FROM "user_rollups" WHERE "level" = 3600 AND "bucket" >= (SELECT "before" FROM "rollup_folds" WHERE "level" = 3600)
            GROUP BY "project_id", "bucket" - "bucket" % 86400, "user_id"
            ON CONFLICT ("project_id", "level", "bucket", "user_id") DO UPDATE SET "events" = "user_rollups"."events" + excluded."events", "cost_nano" = "user_rollups"."cost_nano" + excluded."cost_nano", "unpriced" = "user_rollups"."unpriced" + excluded."unpriced";
        DELETE FROM "rollup_folds" WHERE "level" = 3600;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        -- Hours not folded yet go to user_rollups at both levels before their columns go.
        INSERT INTO "user_rollups" ("project_id", "level", "bucket", "user_id", "events", "cost_nano", "unpriced")
            SELECT "project_id", 3600, "hour_bucket", "user_id", "hour_events", "hour_cost_nano", "hour_unpriced"
            FROM "end_users" WHERE "hour_events" > 0 AND "hour_bucket" >= (SELECT "before" FROM "rollup_folds" WHERE "level" = 3600)
            ON CONFLICT ("project_id", "level", "bucket", "user_id") DO UPDATE SET "events" = "user_rollups"."events" + excluded."events", "cost_nano" = "user_rollups"."cost_nano" + excluded."cost_nano", "unpriced" = "user_rollups"."unpriced" + excluded."unpriced";
        INSERT INTO "user_rollups" ("project_id", "level", "bucket", "user_id", "events", "cost_nano", "unpriced")
            SELECT "project_id", 86400, "hour_bucket" - "hour_bucket" % 86400, "user_id", "hour_events", "hour_cost_nano", "hour_unpriced"
            FROM "end_users" WHERE "hour_events" > 0 AND "hour_bucket" >= (SELECT "before" FROM "rollup_folds" WHERE "level" = 3600)
            ON CONFLICT ("project_id", "level", "bucket", "user_id") DO UPDATE SET "events" = "user_rollups"."events" + excluded."events", "cost_nano" = "user_rollups"."cost_nano" + excluded."cost_nano", "unpriced" = "user_rollups"."unpriced" + excluded."unpriced";
        DELETE FROM "rollup_folds" WHERE "level" = 3600;
        DROP INDEX IF EXISTS "idx_end_users_project_83248a";
        ALTER TABLE "end_users" DROP COLUMN "hour_bucket";
        ALTER TABLE "end_users" DROP COLUMN "hour_events";
        ALTER TABLE "end_users" DROP COLUMN "hour_cost_nano";
        ALTER TABLE "end_users" DROP COLUMN "hour_unpriced";"""


MODELS_STATE = (
    "eJztXWlz2zgS/SsofYld5bgc+dxkdqsUx57xjmxnbWd3aiZTFExCEsYUoPCwrMrmvy8aPM"
    "RbpE6aiw+TsQg0AL4GgX6NBvC9NeIGMe39azJ6JJY9pOPWe/S9xfCIiD8yUvdQC4/HszR4"
    "4OBH08se5pPP8aPtWFh3RFIfmzYRjwxi6xYdO5QzEOggA9vDR44tA7k2sd7YCOs6sW3kcI"
    "TR2OJ/Ed3ZQxPqDMVvi5sE7fT4hBGrh7iFel6Nvd19qM/guqiQssHqi3YZ/eYSzeED4gyJ"
    "JSr4448WFAuJflmtP/8UPygzyAuxIQf8HD9pfUpMIwYrNUBMPtec6Vg+u2LOpcwIL/Ko6d"
    "x0R2yWeTx1hpyFuSlz4OmAiOZih0DxjuUCwsw1TV8fAehe42dZvCZGZAzSx64JegJprwGz"
    "Zy1Nu7l90O4vHjStldJhIBHB3n+kcwb6F0215dsPoAlv2++OTo/ODk+OzkQW2czwyekPr+"
    "oZMJ6ghOfmofVDpmMHezkkxjNQQYNpWM+H2MrGNcifQFY0OYlsgGMRtMGDGbazLh8C6XWp"
    "1roAHuEXzSRs4AzFz3cnBWj+u3N3/kvnbufdyS5UyMVX6n3BN35KWyYB4DOAdYsAIBp20j"
    "B/EikOHZFsqOOSCcANX3Q/+GNd8K+zb4sXNG6ZOfW/qQLoH66uL+4fOtefobqRbX8zJX6d"
    "hwtIacun08TTnaSawkLQf64efkHwE/1+e3Mh4eW2M7BkjbN8D7+3oE3YdbjG+ETDRuTzD5"
    "4GqMW07g9uWqUxKy40f+x6DSpeyfA1wxUmj2qgRiQUoj6iMMX2nzLng2B2jqN7yS1CB+xX"
    "MpUgX4kWYaZnTQS+7fPFL+aVgfsj6D3B09nnbuFJaJNEO5V4d/HGxPHmzc79eefTRStrLF"
    "gBqp9nJTUU2PgQmI0t9N5HrD9NhJGqxboxpPA2TzwJ86aTRu1R8glmeCDxgReBZiewzzD0"
    "I2rJt/L9Nytt4juEYea8R+SZWFP4lwmz2xaWuMixh57IFGFmoD4hBrwfeiQmZwNpppMXUb"
    "Q5RZyRwGDPMvRXX0GGua9s+y3a9vL/FWz7IP/mbPt1ghu369tnZQz79lm+ZQ9pyrT//zTt"
    "UwZT/hwUmR3ifp14//joC1/+ekdMLOHNnfbjjqRX1hPyZv7Yl4THVBMzzpI4dcZU2FJNxc"
    "ifmpfE6N4rpakgSTNmSYguoIzGAsQMDdjLshgxo2EUL4ZSYPUuB9JlpJQmojQiohBds7hp"
    "usvPcVDWnSyqqXhJr8FK0IJvr3lYrZO+y9Eqg7sHo1g+cQ9Hy2oLc1jXucucD0hQYTTGtj"
    "3h4im1ke1wixiCPAsGjW1BshG2Bpy1qYGGQrp4TW6pUhU/rxc/JyNMzSoEPRRYDUPfLrgx"
    "ft4+PirBz0WuXH4u0+L8PPg+NPgCquCcEmygR6R9fFwK8eMCxI+VR0R5RJRHZB22oskHlG"
    "mr4fxdKKuBxH+d9qLvS8qwGGdepnybMerPKmM2+qsob2wkgCA2JMAKzD56EGZeX7RMrseA"
    "mTfkEyasPJ0g7CA5aEJeWKlhsJDj24FZRuRa6lAmZb1Myvov+YR/bsTKWcu6z9giffpSya"
    "AMJRpnua8+Yk4MQ5Ut9qhM4yA+KcONTvKp0UmKGSk7PR/6ZtnpMZsS2w44/xfRe1J2BZr3"
    "m1wXxb8SRQeYFGraIs/8aSE9xyWVluusZRVkvJGQWBW/2YT4zcD/kcHoI66RfEofdcXMp/"
    "S3jCABlmDLtmTP++gc1m3ET4QtgkYAofiPGOhxKtdyPE4uMMXMFiWDSIrDr6rQzG1ZkV7u"
    "vyp4MFK7s2IZpVEgQy5gvhA5Y6mRIOnijH1qxZKVy2CTLoOotlPo5jOuhFgjV0jKUFuRq2"
    "CFJEVuczew5COdv4OlHMo1s8A2AHJiQKloAqelG0hzm2QHx2eXitpOCStl11rZnqpkFEwF"
    "YyAhtTnac1Brq0BxScUlFZeszCW9CPEMJhmGjufzyFmEeomFYYa63WtB4wTH8/kb6lGjB6"
    "u0GMFk9JZbBoHAvy9frj6hnefTXeQyU57XIfifblJRGbLhH+rYiE8yWOW6Kpm/NBwjgZGF"
    "hSQ/TFCNgpwRU7kgl9RKMk8l0glAVGCdrkuNfZBZz0JU66e+y6TmkKwJ/jn6x7oWWAuGP2"
    "mrH3rWQXTel6+uWGh9CJJioRsAmbKxmzHTP5CXPI9VINCIblxEOi5+e4jxjQDHnevOb7sx"
    "ztG9vfk5yB7B/bx7+zEBN3edinjPJBTgCwA+Ig6G8TwN+T/vb2+yIY/KJIk21R30X2RSu4"
    "xRW7PhpAB7AKMY+yTMidkTCkhhH5gwZYfvUEAN3qUGb4c/EWZrlKVB/kgHuYw4JrYQIa4b"
    "1B4f/lu7fXh42j44PDk7Pjo9PT47CIlxOqmIIX+8+hlIckwRaW+EDyPPGs9LwM8zR3WFf2"
    "n8TYEP06faKCPy/NLkOAf+uFgC/j7IvT4FFGD56fbLx+4F+nx3cX51f+WP8qGzVCZK+vrN"
    "pJ7b4u6i001G4omBXmOY8WodPSam+vmi/VzFQS5kTb62NQPl3FbO7UY5t9VJFdvdHRYcf5"
    "K1BDA7GaVgESB6Cku5aDIhIk/k3kfXJeK8kM0lk7b9LVt4IMbTgdCqd9CfnR1ctoY65sWa"
    "BW7F+XFmNiEs5cofctfSHl39iai4sQ3HjW3Bh1y3sWdjoUyy71e0UOOSykKttYU6G+Eqaj"
    "kmqJRcayWr0KW1hC5FbYC0FVzgREkINgbZDTtRJIy5By/Ow38mqPBfAv8F/YhpWaWFJbTg"
    "srFFdZJhFM9VQlRU6WAxHSg/n/LzNcrPt04fVujzy3BiRf2B+V6sqO+xnBMrvE1CzPnWdB"
    "/1fHhksKlBGLdG2KQ2McC35F1Q8dbW+Vg8EFq3KAFfk/jBOPqL05wtkuuoZMlgVhLEBauI"
    "0/pEnOpitEoDfS86h5k7WYRCTZonDtunJ+EUAT+KZof76063m7GSykcjksVr88PvIiJNCE"
    "radPidWrteSBWv02lUbUqIyqxyYqivWufOA4okKJLwqklCakxYAbJNu+kkiWt0HKwT9ZIH"
    "8l5iaroWaWXQr1j6XhEF844J7ntZK0QTgISgOOENAvqQ6E9w69/YQY+CAvXNKdz05wwt7j"
    "gmQQMXNlqxARrDQr93CUEO+1pVyWUoV3gg/sK8SoUBvPJLDLY9i67/GgNl6C9iEb4KQz9l"
    "P21xPio4IC15gPy8+ajaWWkdZAurhRhvKRMzBJ/IADQ4lFzn/IkSNOTiHRBGFmYGHyG5x+"
    "ODd9MN7De//6Xztn18MrsEJ+vw8zXUoI4+r9dEJLVW+eDouJQ6OjoxHWUcHW1bfU2iVgXm"
    "uFQDZ351Rrea9hfz772MqShuATXHJZWaa63mbXkda7ZIsurYv9wg9FxM82PQlRs3J8p/BZ"
    "7Ghl0WvJdwNEY61Xzv7TY84zUbBlbgGBdNQDdfut1t+XBjFxZncObkhcb5nDl9jXI5H+6O"
    "j84eMskzESh7ocx7SNaxi3Rimh9QT/6SsS9v3qA+t/zdWWhCRZdyHUF7ZY5sb+4a6pi3I0"
    "xWBH/MIrO9w0uSW8Qq0eui+MuGMeyNBF3m8/BQfyUn5DC/mo4zDJxF9jVsY0tDQ7r11k5Y"
    "qh3o69/auMiWEbVbZNl+vbWDrRT22zzWSqG/vaOWFPatxTZGqT1RqzvKbeifq1k2Ojspt8"
    "Ebgr//aK1JBZuO0Q62omhjblOHPmfsNyjq/5ni6kNY7EMIwWRwSM3iuoiKK12ojZrb9hao"
    "GOyGb9T0fMiXPOHlTKfuFXmZPfey1odQp3I+5vt/dalD3qMhn4gsljwFrE8ZQV5RCAKp5M"
    "WTUCYx4AYR7t0IwrFlE8tzGWccNbaqgr+yr+yWIa84hBFsKKMOcsciD1xEAvFbQdm2I33V"
    "NtoZUeY6RHqpe3HXe28PwVZ8SPrKenJNJ0jZ/QAlUcvLgJmBDDz1S4SWYgMaysU3JGv0PH"
    "BoiG0ZCE2MfXTHJ6JQ2fIe+js6OXgPTnJrivz2iJeW7vJA9ifUeySiJUS61SmT5cZqB5g+"
    "oLDIr+zw5CAsFVrvZS9VcFCeaCfBEAtnGPK5pwrnKxNo4b4jygyE99EN95I5Q5+91XKhiT"
    "00GRKL+K3wNTKxhIJs/5ls77IRdGt0Mr8SL//a4ug8/Vb0OIcyTZqWN2AU1SQAGJbn85cy"
    "I6mFU0x0xFzBMmZwGqW3ylhxfTJDeIGFx7zTKdXSo1p6rOuopZYeX2e3VierquXH5nt+1C"
    "LMFscVtQij/J11mE+Vv1P5O/PJaIeI8WbYyiCifspeEQnFszzz6Gc+pmpvZ718Us/ECvYe"
    "l7WIIyKNtIiPS1nExwUW8XHSIoaPqgLCfvYGovvu4KAEuiJXLroyLWn5Mifz2J7821IjIk"
    "tdllo3tAvAXdltqVv1rP74H3KS1Ww="
)
