from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "event_tags" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "tag" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "event_id" UUID NOT NULL REFERENCES "events" ("id") ON DELETE CASCADE,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_event_tags_event_i_9df564" UNIQUE ("event_id", "tag")
);
CREATE INDEX IF NOT EXISTS "idx_event_tags_project_608e21" ON "event_tags" ("project_id", "tag", "created_at");
COMMENT ON TABLE "event_tags" IS 'One tag of one event, in a table of its own so that a tag filter is an index lookup';
        ALTER TABLE "events" ADD "error" TEXT;
        ALTER TABLE "events" ADD "status" VARCHAR(8);
        CREATE INDEX IF NOT EXISTS "idx_events_project_a99c2a" ON "events" ("project_id", "status", "created_at");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_events_project_a99c2a";
        ALTER TABLE "events" DROP COLUMN "error";
        ALTER TABLE "events" DROP COLUMN "status";
        DROP TABLE IF EXISTS "event_tags";"""


MODELS_STATE = (
    "eJztXVtz2zYW/isYvdieUVxHju1s0t0ZJXEab33J2s5up3WHgklIYk0BCgla0bT574sD3q"
    "8iZV1oFg9NLQAHIL8DAueGgz87E2YQy9m/IJN7Yjtjc9p5g/7sUDwh4o+c2i7q4Ok0qoMC"
    "ju8tr3nYTpbje4fbWOeiaogth4gigzi6bU65ySgQ9JGBnfE9w7aBXIfYOw7Cuk4cB3GGMJ"
    "ra7A+i8y6amXwsftvMImh3wGaU2APEbDTwRhzs7cN4BtPFgCYdrb5rl5pfXaJxNiJ8TGwx"
    "wG+/daBbqPT76vz+u/hhUoN8Iw60gJ/TB21oEstIwGoaQCbLNT6fyrIzyj/KhvAi95rOLH"
    "dCo8bTOR8zGrY2KYfSERGPizmB7rntAsLUtSyfHwHo3sNHTbxHjNEYZIhdC/gE1N4DRGUd"
    "Tbu8utVuTm81rZPhYUARw94v0hkF/otHdeTbj+ARXvRevjp59frw+NVr0UQ+Zlhy8t0bOg"
    "LGI5TwXN52vst6zLHXQmIcgQoczML6foztfFyD9ilkxSOnkQ1wLIM2KIiwjaZ8CKQ3pTrr"
    "AniCv2kWoSM+Fj9fHpeg+d/+9ftP/evdl8d7MCATX6n3BV/6NT1ZBYBHAOs2AUA0zLMwfx"
    "A13JyQfKiTlCnADZ90P/hjXfCvc26LFzSuqDX3v6kS6G/PLk5vbvsXn2G4ieN8tSR+/dtT"
    "qOnJ0nmqdDfNprAT9L+z208IfqJfry5PJbzM4SNbjhi1u/21A8+EXc40ymYaNmKff1AaoJ"
    "bgur+4abXWrCTR4rXrObB4JctXhCtsHvVAjVEoRH1EYYsdPuTuB8HunET3I7OJOaI/k7kE"
    "+Uw8EaZ63kbgyz5f/G6eGbjfg9kTlEafu41noUwSn1Ti3cUbE+7tm/2b9/0Pp528tWAFqH"
    "6OemopsMklMB9bmL33WH+YCSFVS0xjqGE9lioJ22arJr1JugRTPJL4wIvAY6ewzxH0Y2wp"
    "lvL9N6ss4nNCMeVvEHkk9hz+pULsdoQkLlp00QOZI0wNNCTEgPdD98RidCTFdPJNdG3NEa"
    "MkENjzBP3VD5Aj7ivZfouyvfx/Ddk+aL852X6d4Cbl+t7rKoJ973WxZA91SrT/e4r2GYGp"
    "eA+K7Q5Ju05yfrzziT/+fE0sLOEt3PaThqRnNhOKdv7El4SnpiZ2nCfi1J+aQpZqK0b+1v"
    "xEjG68XtoKkhRjngjRKfTRaoA0jkerAOkWj1qLEzU00PKeChM1WqYKJ1AKtIOngfQx1ksb"
    "UZoQ0Ymu2cyy3KfLAtDXteyqrXhJ68pK0IJvr31YrdPMIVerHBtHsIoVGzjC1bKeAxPrOn"
    "Mpf4v4mKApdpwZE6WmgxzObGIgJpQIhB2EKcL2iNGeaaCxoC73XT6pV2XHaJYdg0ywadUx"
    "ZIQEq7FkbBfchB2jd/Sqgh1DtCq0Y8i6pB0j+D40+ALq4JwhbKHlqHd0VAnxoxLEj5TlSF"
    "mOlOVoHbKixUYm1VZjGzmHvlpoIFmnvOjb3HIkxsgaVywzxu1+VcRG39u04yABBHGgAjxV"
    "++hWiHlD8WTSbwVi3pjNqJDydIIwR3LRhLbg0aLg8PLlwDwhci1jKJGyWSJl811j4Z8bkX"
    "LW4h+b2mRofqslUIYUrZPcVx9ZKJah2hJ7nKZ1EB9X0Y2Oi1Wj44xmpOT0YujbJacnZErs"
    "cDD+L8P3NO0KOO8/clMY/0wYHWBSymmbPLKHpficpFRcbjKXVTD2RkKHVZxrG+JcA/tHjk"
    "YfM40Uq/RxU8xilf6KEiTAEtqyI7XnffQe/DbiJ8I2QROAUPxHDHQ/l74cTycXmGLqiJ6B"
    "JKPDr6rT3ONrsVnuvypYMDKn2BINpVDgRV6I/UK0TNTGgslTDZVNYJM2gTg7M+gWq1Qpsl"
    "a6QKrorqJViQsko70WnuQpRrr4KE81lBsmYm0A5KFpxxeUmjJulrqFemybBN3k9lGT2xli"
    "xexGM9tjlQxzqSEMpKg2p9ccNFoqUMqiUhaVslhbWfRC5XNUxTCGvlhRjEL1K3h+KTo/vx"
    "B6mlDifAUNDUxjAG5YjGAzesFsg0Bk35cvZx/Q7uPJHnKpJROXCAVPt0wxGHLgH5M7iM1y"
    "1MZ1DbLY95tQB2Oeg7SmmFI1SlrGROWSVpIri8bkmLtOulEtzRTQqqGauq5p7APNetxRnR"
    "+HLpXsRXIk+OfVvzqblzikQH/oiRBx4UC+ulJVm6NFKVV1AyCbdOrmiAO35FuRWSsgaMU0"
    "LtNMTn+5TSglAY67F/1f9hKKyfnV5U9B8xju78+v3qXgZi6viXdEoQBfAvAJ4RjW8yzk/7"
    "65usyHPE6T1sZNnaO/kGU6VSTfhi0nJdgDGOXYp2FO7Z7QQQb7QM6punyHBGrxrrR4c/ZA"
    "qKOZNAvyO3NUqDYnyJbSmpsGtac0/6PXOzw86R0cHr8+enVycvT6INSes1VlavS7s59Ak0"
    "4wImuy8GFkeet5BfhZ7qqu8K+MvyXwofpcm+TEn3+0GC6AP0mWgn8IdM+PASVYfrj68u78"
    "FH2+Pn1/dnPmr/KhRVVWSn3zq2V6to3r0/55Oh5PLPQaxZTVm+gJMjXPl53nkSmgssIZUr"
    "RvI60SMF0cLp0Jlia2zXIy7xXL4yFBG6DdtDSuAnuXYsVz85EpZ45y5rTKmRMT+lUKH5Wc"
    "poEHQsNZVeQV9GfcAsdgmKKqWgypaI3YUGYk9TOZmhScdtAnVPj+OOQwxMeYy6oRGpoWJ7"
    "b071EkmYQsxh68bDGZkNIVj3FHd8PrFETDLookiz0kZtlYUIl+YAhHF/8TI4Bty/dJPhAy"
    "jbsdd8TY4JwsDlwlgUtWDFYerso9Di3t7ytTxVoWjLoRDazYD+hzqqo65jdvhf1eHf3b9r"
    "7SCg3B22zqRS3EaVYZu9Bcti4MVVAq14ZVrnA3f6LC1bZkp92UuhX/VtVVDc1RZNeqgvhJ"
    "V/M0kCgfa4kCEs/9Wk3/ECTyvrR9dFHhdBmoCOC5d/xEMXgkFtSRmCKeYuHkH2lbwxiLTr"
    "gFYUyLT7c5hFB1YG2zB9a2EJfWtMVqY2eo5PyuqQgkKZUi0GhFIFrFanI5QaiY3GgmqzNT"
    "azkzNWaurd27+gOpGYGUImwNshsOzJAwFl59sQj/iFDh/wT8l4xNytIqLjyBCy6d2qZOan"
    "olMqSKB8vxQFn/VMCFslNVtFOFoQU5hqp42EGxpSoe4lDNUBXe5yn2fHu+jwY+PPKUq0Eo"
    "syfYMh1iSDe2vCL0haOzqSgQXLdNAvYk8YMy9AczC5IvrWOQJ56iDe3l6hRrc06x6mK1yg"
    "J9IyaHVbhZhERt2icOeyfH4RYBP8p2h5uL/vl5duvV2WSS6xMqDiGOkaggYhVErIxGQZEK"
    "EVAhAkpJUEpC501BoIAKv1hV+MV2VC951U+fczKZ5uYvStR3y1Qw7wIi7DWtfpFNcCWhPi"
    "ZCT7KJDtG7BronQzGFkMmR7VLnDcKiC9NyRVEs0VBIPMFc0OffYrPSAe7oHb1mMwdZ5qNQ"
    "75gtm/GxzTi3yI6DZmIeshnadQhBAqsfHGI/mjpxfvDgCVruT+d7lbW58Ba/tC4n9m6xuW"
    "RyEkHV0tqdCkZ45pc0bnsvX/81jbFpXxXjGEkLUVZB380Q/Z+FRpcRlLcoeJTk2E/fQbhI"
    "8KiXbr+PHCGeEuOFSdG9LTZ0iCaEe+10xh5MgsZMvIOQCWwstvMJkglC3nqXJcPppptP/R"
    "e9o+PoHuU8yWMNI6jb85q110uu1b57LEmlbh9bvBs59lCTqNWBOUmltn217f+dt/2E0ebb"
    "1BTdLcHmJKVic6PZvC3zcsO8YasO8iw8bVCIafFhA2WvLzjOsQKTcnC+6ZmBW9WiHJtUzT"
    "zP17BlYAUeEPEI6PLL+fm2jPUXRLyifs0sy512cnTmRH23TGeeyJaaLZvWON4XZeqwyCMR"
    "KHsx610kx9hDOrGst2ggf8kgp50daSX3QqvRzBRTyoWMILJFftDUGsZYdLxPDgR/RCH4Xu"
    "bb9Hk/lf6jkek/Qv5V3JDD9mo7zhFwljnAso2zKy2Z1ltLz9040Nd/hnWZs0HqWNBT5/XW"
    "sqIr7LeZE12hv7083Qr7znIn4NTht9XdAzD2L2WpGoafptucVNP583tnTSzYdDB+cOZImz"
    "LH5OZjzsGSsvmfS64+hOU+hBBMChmHludFnFzxYslLG2IBItVZEKdSyKuz0Nu206hjDi0/"
    "C+1Z7z+ylH05W9sts+97hn1tCEFm1az7N/85Nzl5g8ZsJpp4ce1DkxLkdYUghA1hG4LeLY"
    "ifF9gyL+02w7ZDbM9Yn5Oxb1UdQ+j9FUVedwgjOLNpcuRORRtIOA6Rc0A2MakrGoCXwIFc"
    "4YOkr2PQRZgaftpwgvUxpBO8o+BN23GQzG0kyeQTuLYNlxhDVgzIcQ6BeYMwKeIAHv0tNJ"
    "zHn5+JTyv2IHeU2V4HY+zIAwXE2EfXAoyBfLEB+ic6PngD3gt7Hjy86Fj6MXzXB/oRDbzz"
    "CtLfIZ5E9H9HZa/wMgaeSxjfxvo8PD4Iew0SJooXlDSy60Es59AgOcIdFUMMpIMxQA3tZk"
    "bbE69BMAQxGkYceY+homEwrLMjhxWFXKKBh5AIPhhvH10yj4ZR9NkLgRBM7qLZmNjEfwOf"
    "2TNb8N7xy+SrPjUsco2eg2fiullbcKTH35puhJCmTTv+BuSthkR1Q8xFsX86Vlu6e8VXnh"
    "X4poN1yHMd13Q65xAv4U2ulj82oIuFdkRdRG6IhHUwtFepqymUb7qxK6DyTT/Paa1yLCv/"
    "dPsNVMpLt8V1RXnplFm2CfupMssqs2yxYtsnYr0Zd3KUWr+mW6bQ4qjNIlW2GFN1+LdZ9q"
    "1HYgeH06tKxDGSVkrER5Uk4qMSifgok+xjOq2DsN+8hei+PDiogK5oVYiurEtLvpTnJvCC"
    "G1aLpN6QJH3+09Q5+ktetvQM0S4BF8CAnovjdNIhOd3kaU7o4N22rbTf/w/FssoN"
)
