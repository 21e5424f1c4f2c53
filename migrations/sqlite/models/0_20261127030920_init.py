from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "projects" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(128) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* A tenant: every event, session, key and feedback belongs to exactly one project. */;
CREATE TABLE IF NOT EXISTS "users" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "password_hash" VARCHAR(255) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* A dashboard account; the password is stored only as an argon2id hash. */;
CREATE TABLE IF NOT EXISTS "memberships" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    "user_id" INT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_memberships_user_id_24dee5" UNIQUE ("user_id", "project_id")
) /* A dashboard user's access to a project, with a role (`owner` or `member`). */;
CREATE TABLE IF NOT EXISTS "api_keys" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(128) NOT NULL,
    "prefix" VARCHAR(16) NOT NULL UNIQUE,
    "key_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "last_used_at" TIMESTAMP,
    "revoked_at" TIMESTAMP,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE
) /* A project's ingestion key. The full key is shown once at creation and never stored. */;
CREATE TABLE IF NOT EXISTS "sessions" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "session_key" VARCHAR(256) NOT NULL,
    "user_id" VARCHAR(256),
    "first_event_at" TIMESTAMP NOT NULL,
    "last_event_at" TIMESTAMP NOT NULL,
    "event_count" INT NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_sessions_project_1a2a43" UNIQUE ("project_id", "session_key")
) /* One conversation. Counters are maintained by the ingest transaction. */;
CREATE INDEX IF NOT EXISTS "idx_sessions_project_f41394" ON "sessions" ("project_id", "last_event_at");
CREATE INDEX IF NOT EXISTS "idx_sessions_project_9f593f" ON "sessions" ("project_id", "user_id", "last_event_at");
CREATE TABLE IF NOT EXISTS "events" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "session_key" VARCHAR(256) NOT NULL,
    "user_id" VARCHAR(256),
    "input" TEXT NOT NULL,
    "output" TEXT NOT NULL,
    "metadata" JSON,
    "model" VARCHAR(256),
    "tokens_in" BIGINT,
    "tokens_out" BIGINT,
    "latency_ms" REAL,
    "created_at" TIMESTAMP NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE
) /* An LLM interaction. `id` is a time-ordered UUID (v7) unless the client sent its own. */;
CREATE INDEX IF NOT EXISTS "idx_events_project_2e3bb7" ON "events" ("project_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_events_project_293ffc" ON "events" ("project_id", "session_key", "created_at");
CREATE INDEX IF NOT EXISTS "idx_events_project_e12dc3" ON "events" ("project_id", "user_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_events_project_cce6fc" ON "events" ("project_id", "model", "created_at");
CREATE TABLE IF NOT EXISTS "feedback" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "score" SMALLINT NOT NULL,
    "comment" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "event_id" CHAR(36) NOT NULL REFERENCES "events" ("id") ON DELETE CASCADE,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE
) /* One feedback entry. `project` is denormalised so tenant-scoped queries need no join. */;
CREATE INDEX IF NOT EXISTS "idx_feedback_project_ff6809" ON "feedback" ("project_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_feedback_event_i_363880" ON "feedback" ("event_id", "created_at");
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXGtT2zgU/SuafFmYoQwECGx3Z2cCDS3bQDok7Hba6RjFVhIXW0otuSHT5b+vJL+f2J"
    "CkxvWH0ljSlexzbd1zrmT/aJlEQwbdvUTmGFl0ps9br8GPFoYm4j9SandAC87nQZ0oYHBs"
    "OM39drIcjimzoMp41QQaFPEiDVHV0udMJ1gYdIEG6WxMoKUBmyLrNwqgqiJKASMAgrlFvi"
    "KV7YCFzmb82CIGAlu3ZIGRdQuIBW6dEW+3d8V4GlH5gDqerr5rG+vfbKQwMkVshiw+wOfP"
    "LdGtqHT7an35wg90rKF7REULcTi/UyY6MrQIrLomzGS5wpZzWXaB2blsKC5krKjEsE0cNJ"
    "4v2Yxgv7WOmSidIn66kCHRPbNsgTC2DcP1hwe6c/JBE+cUQzYamkDbEH4S1s4JBGUtRbka"
    "jJRhb6QorYQPPYsQ9m6RSrDwPz9VKq9+Kk7hVXv/8Pjw5KBzeMKbyNP0S44fnKEDYBxDCc"
    "/VqPUg6yGDTguJcQCq8GAS1rMZtNJx9drHkOWnHEfWwzEPWq8gwDa45X0gnVuqtS6ATXiv"
    "GAhP2Ywf7ndy0Pyne332rnu9td/ZFgMS/pQ6T/CVW9OWVQLwAGDVQgIQBbIkzG94DdNNlA"
    "511DIGuOaa7no/1gX/Ou9tfoHaABtL95nKgX50cdkbjrqXH8RwJqXfDIlfd9QTNW1ZuoyV"
    "bsXd5HcC/r0YvQPiEHwaXPUkvISyqSVHDNqNPrXEOUGbEQWThQK10OPvlXqoRbzuTm5KqT"
    "kravT43PUSXLyS6SvAVQSPcqCGLBpEXURFiJ3cpcYDLzpH0T0nFtKn+D1aSpAv+BlBrKYF"
    "Apf73LjdvDBwH7y7xysNHncLLnxOEr6p+LXzK0bMiZvd4Vn3Ta+VNhesANUPQU81BTY6Ba"
    "ZjK+7eMVTvFpykKpHbWNSQNomV+G2TVWbbjJdADKcSH3Eh4rRj2KcQ/ZBbslm+e2WFKT5D"
    "GGL2GqDvyFqKv5jTbsqZOG+xA+7QEkCsgQlCmrg+MEYGwVNJ09E979pYAoKRR9jTiP7qB0"
    "ih+w23/4ncXv5fgtt77TfH7dcJbpTXt0+KEPv2STazF3UNtf81qX2CMGXHoFB0iOZ1ovfH"
    "qWt8/v4aGVDCmxn2o4mkF3YnZEX+yJME57rCI84zcerOdc6l6oqRG5qfidHQ6aWuIEka80"
    "yIeqKPugLk8bnnQXQe6qUuKK1TPEg5nKIcPJmcLRuE0nzCsgBUVWJj9gfgRBzMIaULwkt1"
    "CijjolPj1J3zd0g5xQfQmhLc1jUw49b5KwLP6rVRB9VSB8iEulFGHvgGq9EHPxfciDpoHx"
    "0WUAe8VaY6kHVRdeA9H4p4AsrgnDCsoR5rHx0VQvwoB/GjRo81eqzRYy+B/7jKLIUBBZot"
    "mwOF1WERGuTmJH+jgAOBqKgQ+cxdMOK0ZcLPTGY3BW2ZkQXmrEVFADIgJwHRVuQ9sUiLur"
    "wmjRStZYyGIlWLIlU/ger/3EjUXksWdW6hiX5fiiD5FrVjoqvff8KnodIMNGxTO4g7Rbh+"
    "J5vqdxJMv+GdvwrvDHvdgJQpNn2S3+O2K/C8e8pVcfwLcbSHSa6nLfSd3D3Jz1HLxstV9n"
    "KzZW8jG8ya3VB12A3lLSOmKPrQCmO2pA8vZj4u6QcYAQ4WV8tUquddcCbWIfghgBYCpoCQ"
    "/0MaGC/l2oSjyTmmEFPeszBJaPhVdZr6kkPoLncvVWQwEu86RBpKUiAXMEW84C0jtaEth7"
    "GGTU5gkzmBsDsT6GZLqphZLVP6RbQrb5WT0k+o18z93tlIZ2/4LoZyxSjWBkCe6FZ4QinJ"
    "cZPWNdSxdSK60fBR0tsJ48bZlXa24yq5baMEGYhZbU7X7FWaFTRisRGLjVgsLRadDZUpUt"
    "HfaZktFIMNnQVWfjHo9y+5TuMizhVo4FbXbsUyLAQiGL0ilobETrWbm4s3YOv78TawsSFf"
    "b+cCTzV0Phig4o/OKCCLFNm4rkEeX/uNyMHQykFcKcakRk7LEFXOaSW9Em9TSnQKIEqoTt"
    "vWtV1hs56VptafExtLzwE5kvhz+Ne6VlBzpj/J1Q8cdhCO+/LSGxVaHYHUqNANgKzjuZ0S"
    "6UfoPitj5RnU4jbOEx29j6OI3vBw3LrsftyOaI7+4Oqt1zyE+1l/cBqDm9isJN6BRQP4Ew"
    "A3EYNiPk9C/vdwcJUOedgmLrR1lYH/gKHTIqS2YtNJDvYCjHzs4zDHoqfoIIG9R2GKTt++"
    "QTN5F5q8GblDmCo6ToJ8qk8zFXHE7EmCuGpQO3r493b74OC4vXfQOTk6PD4+OtnzhXGyKk"
    "8hn168FSI54ohkNsKFkaTN5wXgJ6mzeoN/YfwNjg9Wl4qZsrH83CAwA/6oWQz+ibB7eQ7I"
    "wfLN4Oa03wMfrntnF8MLd5b3k6WyUsrXb4bupC2ue91+s9XuV8xaN+nVJr1aq/Rq8wL2z3"
    "0ByccrJQsdxjI7ER32W7EdS/6nkxBm1nIX3Lq3kEwVawgTy4RcviENUOJ+jekVVcmcF3BH"
    "WTqiAPMuACbgK9EzdjCtY5BnpqKRl9Vv8sXVyRerfEZPAj3kN4eRGVB9ozrF0oP2cccPo+"
    "IgL4IOL7v9fpLvq8Q0UdqCenbyLGRSh5TCppNnDe9/kiteGu939p2UCwlhm1UGhuq69dE4"
    "0AipRkhVhtfvPEFIJeaEFSBbt896xXENz4NV2v3T5SpDnbXSvv3g1OzkfvshaPOY6MpGtP"
    "muQrXeoRDv3LjpjaILciGTWqw+b+BzSOKhKoGw27yG6O7v7RX5qsLeXvZnFURdXANilhqY"
    "slfzQybPWsyvGtqbWM1PkK9NBrOH/wHhvhov"
)
