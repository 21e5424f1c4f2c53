from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "metric_rollups" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "level" INT NOT NULL,
    "bucket" BIGINT NOT NULL,
    "model" VARCHAR(256) NOT NULL,
    "events" BIGINT NOT NULL,
    "tokens_in" BIGINT NOT NULL,
    "tokens_out" BIGINT NOT NULL,
    "cost_nano" BIGINT NOT NULL,
    "unpriced" BIGINT NOT NULL,
    "latency_hist" TEXT NOT NULL,
    "feedback_positive" BIGINT NOT NULL,
    "feedback_negative" BIGINT NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_metric_roll_project_9ae2ec" UNIQUE ("project_id", "level", "bucket", "model")
) /* One (project, level, bucket, model) cell; `model` is '' for events without a model. */;
        CREATE TABLE IF NOT EXISTS "user_rollups" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "level" INT NOT NULL,
    "bucket" BIGINT NOT NULL,
    "user_id" VARCHAR(256) NOT NULL,
    "events" BIGINT NOT NULL,
    "cost_nano" BIGINT NOT NULL,
    "unpriced" BIGINT NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_user_rollup_project_44fee4" UNIQUE ("project_id", "level", "bucket", "user_id")
) /* One (project, level, bucket, end user) cell. */;
        ALTER TABLE "events" ADD "cost_nano" BIGINT;
        CREATE INDEX "idx_sessions_project_26feb0" ON "sessions" ("project_id", "first_event_at");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_sessions_project_26feb0";
        ALTER TABLE "events" DROP COLUMN "cost_nano";
        DROP TABLE IF EXISTS "metric_rollups";
        DROP TABLE IF EXISTS "user_rollups";"""


MODELS_STATE = (
    "eJztXW1T4zgS/iuqfBmoYigmEOB2rq4qMLDDboApCHtbu7VlFFtJvDhSxpYJqTn++0ry+2"
    "vsJE4cnz4ME1tqyX5alvpptds/WhOiIcM6vEWTATKtsT5t/QR+tDCcIPYjpfQAtOB0GpTx"
    "ExQODKe6X0+chwOLmlClrGgIDQuxUxqyVFOfUp1gLtAFGrTGAwJNDdgWMj9YAKoqsixACY"
    "BgapK/kUoPwEynY3ZsEgOBvWcyw8h8BsQEz06Pz/uHvD+NqKxDHY/W37SN9e82UigZITpG"
    "Juvgzz9bvFle6LbV+usvdqBjDb0hi9fgh9MXZagjQ4vAqmtcTJxX6Hwqzt1gei0q8hsZKC"
    "ox7AkOKk/ndEywX1vHlJ8dIXa5kCLePDVtjjC2DcPVhwe6c/FBFecSQzIaGkLb4Hri0s4F"
    "BOdainJ331cer/qK0kro0JMIYe+eUgnm+meXaom7H/FL+Nj+dHJ2cn58enLOqojL9M+cvT"
    "tdB8A4ggKeu37rXZRDCp0aAuMAVK7BJKyXY2im4+rVjyHLLjmOrIdjHrTeiQDbYMj7QDpD"
    "qlUVwBP4phgIj+iYHX46zUHzt+7D5dfuw96n033eIWFPqfME37klbVHEAQ8AVk3EAVEgTc"
    "L8hZVQfYLSoY5KxgDXXNFD70dV8Fc5ttkNavfYmLvPVA70/Zvbq8d+9/Yb725iWd8NgV+3"
    "f8VL2uLsPHZ2L64mvxHw35v+V8APwR/3d1cCXmLRkSl6DOr1/2jxa4I2JQomMwVqocffO+"
    "uhFtG6O7kppeasqNDiuWsXVLyW6SvAlS8e5UANSUhEXUT5Ejt8SV0PvNU5iu41MZE+wr+i"
    "uQD5hl0RxGraQuDaPk9uMzsG7rs3eryzweNuwplvk4QHFbt3dseIOutm9/Gy++WqlTYXrA"
    "HVb0FLDQU2OgWmY8tH7wCqLzNmpCqRYcxLSJvEzvh1k0WT9iR+BmI4EvjwG+GXHcM+xdAP"
    "qSXbynfvrLCJTxGGmP4E0Csy5/wvZma3xSxxVuMAvKA5gFgDQ4Q0fn9ggAyCR8JMR2+saW"
    "MOCEaewZ5m6K+/gxRzX9r2W7Ttxf8lbHuv/uZs+yrBjdr17fMihn37PNuy52XStP//NO0T"
    "BlP2GhRaHaJ+nej4uHCFr399QAYU8GYu+1FH0o6NhKyVP/IkwamusBVnRZy6U53ZUk3FyF"
    "2aV8To0WmlqSAJM2ZFiK54G40FCGsKZy+rYoS1hlG8CEqe1bsaSNehVpqI0gSxRlTFJIZh"
    "r77G8bYeRFNNxUt4DdaCFn/2modVlfRdzFYp3N2bxbKJuz9bltuYg6pKbEw/A0aFwRRa1o"
    "yws7oFLEpMpDHyzBg0tBjJBtAcEdzWNTBm0vl7ciu1Kvl5vfg5mkDdKEPQfYH1MPTtghvh"
    "5+3OSQF+zmpl8nNRFuXn3vOh8CegDM4JwQZ6RNqdTiHEOzmId6RHRHpEpEekClvRICMdK+"
    "vh/D3eVgOJf5X2outLSrEYAy9Tts0Y9mcVMRvdXZQPFmBAIIsX8B2YQ9BnZt6QXZnYj+Fm"
    "3pjMMLPyVAQgBWLS5HX5Tg3mGzmuHZhmRFbShzQp62VS1n/Lx/+5ESunkn2fqYmG+lspg9"
    "KXaJzlvv6IOTYNlbbYwzKNg/i0CDc6zaZGpwlmJO30bOibZadHbEpoUe78X0bvcdk1aN69"
    "5LoofkcU7WGSq2kTvZKXpfQclZRarrOWZZDxRkJiZfxmE+I3Pf9HCqMPuUayKX3YFbOY0t"
    "9jBBhYjC1bgj0fgku+b8MOATQRmHAI2T+kgcFc7OU4nJxhCrHFWuYiCQ6/rkZTX8sKjXL3"
    "VrkHI/F2VqSiMApEyAVfL1jNSGkoSDq/4lA3I8XSZbBJl0FY2wl0sxlXTKyROyRFqC2rlb"
    "NDkiC3mS+wZCOd/QZLMZRrZoFtAOTYhFLSBE5KN5DmNskOjq4uJbWdEJbKrrWyHVWJKJgS"
    "xkBManO056jWVoHkkpJLSi5Zmks6EeIpTNIPHc/mkUGEeoGNYQx6vVtG4xjHc/kbeNa1Z7"
    "5LCwFfjD4SU0M88O/p6eYL2Hs92wc2NkS+Dsb/VENnnQGL/9GpBcgshVVW1cnireEICQxt"
    "LMT5YYxq5NQMmco5tYRW4nVKkU4ORAnWadu6dshlqtmIav17aGOhOSB64n9O/lPVBmvO9C"
    "ds9WPHOgiv++LWJQutD0GSLHQDIOt4aqes9H30luWx8gQaMYzzSMfV7/0I3/Bw3Lvt/r4f"
    "4Ry9+7ufveoh3C979xcxuIlNS+IdSEjAlwB8gijk83kS8l8e7+/SIQ/LxIm2rlLwP2DoVh"
    "GjtmbTSQ72HIx87OMwx1ZP3kACe8+EKTp9+wJy8i40eVPygrCl6DgJ8oU+ymTEEbGlCHHd"
    "oHb48L/a7ePjs/bR8el55+TsrHN+5BPjZFEeQ764+ZmT5Igikt4IF0aSNp8XgJ+kzuoS/8"
    "L4GwwfrM6VSUrk+bVBYAb8UbEY/EMut3sKyMHyy/3TRe8KfHu4urx5vHFned9ZKgoFff1u"
    "6I7b4uGq24tH4rGJXsEQk3IDPSImx/my41zGQS5lTe7anoF0bkvndqOc2zJTxXbfDvPSn6"
    "RtAQSZUXI2AcJZWIpFkzERkZH7ENwWiPMCFhFM2nJf2YIjNp+OmFadRH9WenBZBX0sijXz"
    "3IqL48wshLCMDdtsbNgW/MR1m182Fq4kxndJKzQqKa3QWluhwSxWUssRQankWitZhifJ8K"
    "SaL/iSwdWAwVXJTnw2l0JPwkwvm5+EWWUxeuLnCWcTmTk/BM8uPCKMSEOYmBPIyALjE4w1"
    "OKnHP1oqmbITTOumjjiLYAeYgL+JnvHySxWdrBimhLyILxlLVJ9YIpXNVkmgH9ngMDIXC1"
    "+oSevEcfvs1F8i+EHe6vB42+31UnzkZDJBadZMdmBFSKQJ282bDqyQuxJLqWI3qUK5JSEs"
    "s86Fob5qXbgOSJIgScJOk4TEnLAGZJuWwz6Oa3gerBP1EqkWr6Fu2CZqpdCvSPlBHgVzEk"
    "AOnaol9om4BKM4fm5odYzUF/49pykFA0aBhsacf8OJjk1CqYHAyOYh9HgEpnwLx0kvncG+"
    "1tVyEcrlpzpemlfJzZ8dT0+97VW0+gTV0tBfxiLcCUM/YT9tcT3KSX0TTw28aD0qlwWnCy"
    "xmtSDto47ZCkFmIrSAp5tVCXnRERgTdg/8M+IQa2QCRPTuZ+cbBvxNwsev3Y/tzmnweYO0"
    "tLYV9CCT2tZrIRJaK50SNColk4LGlqOUpKCWOVQEamVgjko1cOWX2Vflsr+cf+9tqrPmll"
    "BzVFKqudZq3pbXsWabJOuO+MgMPczENDvyULpxM2I71+BpbNhnIA9ijsbQoFrsvd2GZ7xm"
    "08AaHOPsEsDdU6+3LR9u5FOUKZw5/qnKbM6c/EBmMR/unovOATDQK2IoD2z1BbFD0cc+UJ"
    "FhfAbP4kjEvnz4AIbEdOPuwUxnQ8qmjPaKGune3Ar6WBTrLzriP5yuWh7kieD/UvQ67zXJ"
    "hjHsjbwdmc3Dff0VXJD9+nI5TjFwgoeg+HgOZJoE6YZf+t1w7ozagV79Cy2ZX2HPGdqBTG"
    "Oi37eTNGPzKUsk9ttMWCLR314SDYk9u/Up4ziopGEelpLIr5akZ+xmTCsanR2X2+C3H3+8"
    "typSwaZjtL1XUZQpsXSqv6a8b5A3/lPF5YOw3IPgg4l5+oHldREWl7pYThcyBlvGYO+Oq3"
    "nL0cJ87yTbzxwqPcjzMostivX5mL0kMI4LuKTzOEV4Ca9wVlIY6ReWfuHaTUPSL7zTw1om"
    "O5K+4eab5dJDtsV5RXrIJBmtw3oqyagko9lktIvYfDNupRBRt+Qgj4TCoM4i+pmNqXzxpl"
    "4v3vAvjbsvhhW1iEMijbSIO4Us4k6ORdyJW8T8oSqBsFu9geh+OjoqgC6rlYmuKItbvpim"
    "5lTI/khRSGSlbxTVDe0ccNf2kaKtvvf6/g9riNM2"
)
