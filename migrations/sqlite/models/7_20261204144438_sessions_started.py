from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_sessions_project_26feb0";
        ALTER TABLE "metric_rollups" ADD "sessions" BIGINT NOT NULL DEFAULT 0;
        -- Sessions started, per bucket, from the sessions of before this migration: counted in
        -- the cell of each session's first event. Minute rows not folded yet (at or after the
        -- minute watermark) get them at minute level only: the fold carries them up.
        INSERT INTO "metric_rollups" ("project_id", "level", "bucket", "model", "events", "tokens_in", "tokens_out", "cost_nano", "unpriced", "latency_hist", "feedback_positive", "feedback_negative", "sessions")
        SELECT t."project_id", l."level", t."minute" - t."minute" % l."level", t."model", 0, 0, 0, 0, 0, '{}', 0, 0, COUNT(*)
        FROM (SELECT s."project_id", CAST(strftime('%s', s."first_event_at") AS INTEGER) / 60 * 60 AS "minute",
                COALESCE((SELECT e."model" FROM "events" e WHERE e."project_id" = s."project_id" AND e."session_key" = s."session_key" AND e."created_at" >= s."first_event_at" ORDER BY e."created_at", e."id" LIMIT 1), '') AS "model" FROM "sessions" s) t
        JOIN (SELECT 60 AS "level" UNION ALL SELECT 3600 UNION ALL SELECT 86400) l
        WHERE l."level" = 60 OR t."minute" < (SELECT COALESCE(MAX("before"), 9223372036854775807) FROM "rollup_folds" WHERE "level" = 60)
        GROUP BY 1, 2, 3, 4
        ON CONFLICT ("project_id", "level", "bucket", "model") DO UPDATE SET "sessions" = "metric_rollups"."sessions" + excluded."sessions";"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "metric_rollups" DROP COLUMN "sessions";
        CREATE INDEX "idx_sessions_project_26feb0" ON "sessions" ("project_id", "first_event_at");"""


MODELS_STATE = (
    "eJztXWlz2zgS/SsofbFd5bgc+dxkdqsUx57xjmxnbWd3asZTFERCEscUoPCwrMrmvy8avE"
    "+ROmkuPkzGItEA+RoE+nU3gO+tMdOIYR3ckHGfmNZIn7Q+oO8tiseE/5Fxdx+18GQS3oML"
    "Nu4bbvGgnLiO+5ZtYtXmtwbYsAi/pBFLNfWJrTMKAh2kYWvUZ9jUkGMRc8dCWFWJZSGbIY"
    "wmJvuLqPY+mur2iP82mUHQbo9NKTF7iJmo57bY2zuA9jSm8gZ1Olx91Q7VvzlEsdmQ2CNi"
    "8gb++KMF1cJNr67Wn3/yHzrVyCuxoAT8nDwrA50YWgxWXQMxcV2xZxNx7ZraV6IgvEhfUZ"
    "nhjGlYeDKzR4wGpXVqw9Uh4Y+LbQLV26YDCFPHMDx9+KC7Dx8WcR8xIqORAXYM0BNIuw8Q"
    "Xmspyu3do/Jw+agorZQOfYkI9t4llVHQP39US7z9EB7hXfv98dnx+dHp8TkvIh4zuHL2w2"
    "06BMYVFPDcPrZ+iPvYxm4JgXEIKmgwDevFCJvZuPrlE8jyR04i6+NYBK1/IcQ27PIBkG6X"
    "aq0L4DF+VQxCh/aI/3x/WoDmvzv3F7907nffn+5Bg4x/pe4XfOvdaYtbAHgIsGoSAETBdh"
    "rmz/yOrY9JNtRxyQTgmid64P+xLvjX2bf5C2p31Jh531QB9I/XN5cPj52bL9Dc2LK+GQK/"
    "zuMl3GmLq7PE1d2kmoJK0H+uH39B8BP9fnd7KeBllj00RYthucffW/BM2LGZQtlUwVrk8/"
    "ev+qjFtO4NbkqlMSsuNH/segsqXsnwFeIKk0c1UCMSElEPUZhiB8+Z84E/O8fRvWIm0Yf0"
    "VzITIF/zJ8JUzZoIPNvnq1fNGwP3h997/Kvh527iaWCTRDsVf3f+xsR2583Ow0Xn82Uray"
    "xYAapfwpoaCmx8CMzGFnpvH6vPU26kKrFuDHdYmyWuBGXTt8btcfIKpngo8IEXgcdOYJ9h"
    "6EfUkm/le29W2sS3CcXU/oDICzFn8C/lZrfFLXFeYh89kxnCVEMDQjR4P9QnBqNDYaaTV1"
    "61MUOMEt9gzzL0V99Ahrkvbfst2vbi/xVse7/85mz7dYIbt+vb52UM+/Z5vmUP96Rp//9p"
    "2qcMpvw5KDI7xP068f7xyRO++vWeGFjAmzvtxx1Jb6wn5M38sS8JT3SFzzhL4tSZ6NyWai"
    "pG3tS8JEYPbi1NBUmYMUtCdAl1NBYgqinAXpbFiGoNo3gxlHyrdzmQriK1NBGlMeGVqIrJ"
    "DMNZfo6Duu5FVU3FS3gNVoIWfHvNw2qd9F2MVhnc3R/F8ol7MFpWC8xhVWUOtT8iToXRBF"
    "vWlPGruoUsm5lE4+SZM2hscZKNsDlktK1raMSli2NyS9Uq+Xm9+DkZY92oQtADgdUw9O2C"
    "G+Pn7ZPjEvycl8rl5+JenJ/734cCX0AVnFOCDfSItE9OSiF+UoD4ifSISI+I9Iisw1Y02F"
    "Cnymo4fxfqaiDxX6e96PmSMizG0MuUbzNG/VllzEYvirJjIQ4EseAGRGAO0CM38wb8yUQ8"
    "Bsy8EZtSbuWpBGEbiUETykKkhkIgx7MDs4zItbQhTcp6mZT1D/kEf27EyllL3GdikoH+Ws"
    "mgDCQaZ7mvPmOOD0OVLfaoTOMgPi3DjU7zqdFpihlJOz0f+mbZ6TGbEls2OP8X0XtSdgWa"
    "9x65Lop/I4r2MSnUtEle2PNCeo5LSi3XWcsyyXgjKbEyf7MJ+Zu+/yOD0UdcI/mUPuqKmU"
    "/p7yhBHCzOli3Bng/QBcRt+E+ETYLGACH/j2ioPxOxHJeTc0wxtXjNIJLi8KuqNHNZVqSX"
    "e68KHozU6qxYQWEUiJQLmC94ydjdSJJ0oqD0CWzSJxBVZwrdfEqVEGtkCKQMd+WlCkIgKf"
    "aau0IlH+n8JSrlUK6ZibUBkAe6GR1QKtq4aekG8tgmGbrx6aOitlPCUtm1VrarKpHmUsEY"
    "SEhtjtcc1toqkGRRkkVJFiuTRTcFPIMqBrnh+UQxTEEvEfmlqNu94TyNkziPoKGervUgDI"
    "sRTEbvmKkRyOz7+vX6M9p9OdtDDjXEhhyc4KmGzhtDFvyj2xZi0wzauK5G5sd+Y3QwEjlI"
    "MsUE1SgoGTGVC0oJrSTLVCKdAEQF1uk4unYAMuuJNLV+GjhUaA6JluCf43+sK4JaMPwJW/"
    "3ItQ6i8754dclC60OQJAvdAMg6nTgZM/0jec3zWPkCjejGRaTj8rfHGN/wcdy96fy2F+Mc"
    "3bvbn/3iEdwvunefEnAzx66IdyghAV8A8DGxMYznacj/+XB3mw15VCZJtHXVRv9Fhm6VMW"
    "prNpwUYA9gFGOfhDkxe0IFKex9E6bs8B0IyMG71OBts2dCLUWnaZA/6cNcRhwTW4gQ1w1q"
    "lw//rd0+OjprHx6dnp8cn52dnB8GxDh9q4ghf7r+GUhyTBFpb4QHI8saz0vAzzJHdYl/af"
    "wNjg9VZ8o4I7X8ymA4B/64WAL+Aci9PQUUYPn57uun7iX6cn95cf1w7Y3ygbNU3BT09Zuh"
    "u26L+8tON5lqxwd6hWLKqnX0mJjs54v2c5nouJA1+dZiBtK5LZ3bjXJuy60otrv8y9/fJC"
    "sEEG59UhAEiG6zUi5djIuILbcP0E2JRC5kMcGkLW9NFh7y8XTIteru5GdlZ4+toY15yWS+"
    "W3F+IplFCJW5YZvNDduCn7hu48vG0pVE/65ohcYlpRVaays0HMUqajkmKJVcayXL9KS1pC"
    "eNmGMqfUd9JhU9ggnBxiC7YUeJgDF398R5+IeCEv8l8F/QV5iWlVpYQgsOnZi6SjKM4rlK"
    "iIpKHSymA+nLk768Rvny1umnCvx6GY6qqM8v31MV9S+Wc1QFR0LwOd+cHaCeB49IKNUIZe"
    "YYG7pFNPAfuadMvLNUNuEXuNZNnYA/if+gDP3F9Jx1jutoZMmEVeLn/sqs0vpklap8tEoD"
    "/cA7h5E7WQRCTZonjtpnp8EUAT+KZoeHm063mxEtZeMxyeK1+Sl2EZEmJB5tOsVOxqcXUs"
    "XbdBpVmxKiMqucGOqr1rnzgCQJkiS8aZKQGhNWgGzTjitJ4hodB+tEvcSuuldYNxyTtDLo"
    "V+z+fhEFc/f6HbhFK2QMgASnOMExAOqIqM9wdN/ERn1OgQbGDI7rs0cms22DoKEDi6noEE"
    "0gmO+eJJDDvlZVcxnKFexqvzCvkmkAb/wkgm3Pous/i0Aa+otYhG/C0E/ZT1ucjwp2OUvu"
    "Aj9vPqq24VkHWdxqIdo7nfIZgk1FkhnsLK4y9qwTNGL8HRBGJqYaGyOxjuOje1wNrCl/+K"
    "Xzrn1yGp5kk7WD+RpakPuX12siElqrvPtzXEru/5yYjjL2f7bMgSJQqwJzXKqBM7/caFtO"
    "+4v5914nOq9uATXHJaWaa63mbXkdaxYkWXXuX24Sei6m+Tno0o2bk+W/Ak9jw0783U84Gi"
    "Odar73dhue8ZoNAytwjPNHQLdfu91t+XBjpw5ncObkqcT5nDl9FnI5H+6uh84+MsgL4Si7"
    "qcz7SLSxh1RiGB9RT/wSuS87O2jATG8FFprqvEs5Nqe9okS2N3cNbcxb9SUagj/CzGx3g5"
    "LkMrBK9Loo/7JhDHsjSZf5PDzQX8kJOSgvp+MMA2eRdQ3bWNLQkG69tV2Uagf6+pc2LrJk"
    "RK4WWbZfb23zKon9NreukuhvbzsliX1rsYVRck3U6rZrG3l7Z5bNzk7KbfCY3+8/WmtSwa"
    "ZztP2lKMqEWbqtv2SsNyjq/5ni8kNY7EMIwKSwEc3iuoiKS10spotogkh5FUSlJPJyiey2"
    "/TQy+73hS2Rd7/0VS/iX03f3i/z7rmNfGUCSWTnv/sO/urpNPqARm/IipthjbaBTgtyqEK"
    "SwiXM7oU6iwfkszD1vhWHTIqbrrM/YyG1VFT/RJ3pHkVsdwgiW8uk2cia8DBzzAplzIDbW"
    "qcMLQJSAXx2gXjzW0dtHmGromZCJhQhWR7DL3BOFaNqOhUQquBATT+CYJhwjA5sl8OcSiX"
    "m9YK+8Hjz6Ryg4iz4/459W5EGeKDPdCkbYEinqRDtA9xyMnnixHvo7Oj38ANELc+Y/PK9Y"
    "xDG80Af6CfX6ZMA/YxHv4E/C63+iolZ4GQ3PBIwfI3UenR4Gtfr76PEXFDKi6l5kK5pevI"
    "UnypvoiQCjjxraTbW2x1+DYEhi1LQo8q5CeUG/WWtHNMsv2gINPLC5Wv32DtAtc2UYRV/c"
    "FAiu5H00HRGTeG/gKXtqct1b3jXxqsumRa4xcvBGQjdrS4509VsxjBDINGnG34C9VZOsbs"
    "i5yI9PR+4Wzl7RkWcFsWl/HHJDxxWDzhnCC0STy20r6stFUjvCKsIwRMw7GPirqq1BkrHp"
    "1bIdGZuWsekGdmu59a6MTzffQSWjdFscV2SUTrpl6zCfSresdMvmE9sO4ePNqJVBar07+0"
    "WEFodl5lHZfEzl4t96+bdeiOkvTi9rEUdEGmkRn5SyiE8KLOKTpEUMH1UFhL3iDUT3/eFh"
    "CXR5qVx0xb2k5UvtzH2d8o/MjYgsdWJu3dAuAHdlR+Zu1Uv7439bIW83"
)
