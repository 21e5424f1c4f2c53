from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "end_users" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "user_id" VARCHAR(256) NOT NULL,
    "first_seen" TIMESTAMPTZ NOT NULL,
    "last_seen" TIMESTAMPTZ NOT NULL,
    "event_count" INT NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_end_users_project_79d931" UNIQUE ("project_id", "user_id")
);
CREATE INDEX IF NOT EXISTS "idx_end_users_project_c2b3c1" ON "end_users" ("project_id", "last_seen");
COMMENT ON TABLE "end_users" IS 'One end user. Maintained by the ingest transaction so lists never aggregate events.';
-- Backfill from events stored before this table existed.
INSERT INTO "end_users" ("project_id", "user_id", "first_seen", "last_seen", "event_count")
SELECT "project_id", "user_id", MIN("created_at"), MAX("created_at"), COUNT(*)
FROM "events" WHERE "user_id" IS NOT NULL GROUP BY "project_id", "user_id";"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "end_users";"""


MODELS_STATE = (
    "eJztXW1T4zgS/iuqfFmmCigmvN7u1VUFJuxwG2AKwt3Wbm0ZYSuJF0fKWMqE1N7891PL76"
    "/YkATj1YdhYkkt20/L6n5acvuvzpRZxOG7l2T6QFw+sWedH9FfHYqnRP7Iqd1GHTybRXVQ"
    "IPCD4zUP26ly/MCFi00hq0bY4UQWWYSbrj0TNqMg0EMW5pMHhl0LzTlxf+AImybhHAmGMJ"
    "q57E9iim20sMVEHrvMIWjrni0oce8Rc9G9d8b7D7twPouZ8oQ2Ha++6zm1v86JIdiYiAlx"
    "5Ql+/70D3UKl31fnjz/kgU0t8kQ4tIDD2aMxsoljJWC1LRBT5YZYzlTZBRXnqiHcyINhMm"
    "c+pVHj2VJMGA1b21RA6ZjIy8WCQPfCnQPCdO44vj4C0L2Lj5p4lxiTscgIzx3QE0h7FxCV"
    "dQzj6npo3PaHhtHJ6DCQiGHvF5mMgv7lpXJ192O4hJ3ux4Pjg5P9o4MT2URdZlhy/N07dQ"
    "SMJ6jguRp2vqt6LLDXQmEcgQoazMJ6NsFuPq5B+xSy8pLTyAY4lkEbFETYRkM+BNIbUp11"
    "ATzFT4ZD6FhM5OHHoxI0/9O7Ofvcu9n6ePQBTsjkU+o9wVd+TVdVAeARwKZLABADiyzMn2"
    "SNsKckH+qkZApwyxfdDX6sC/51jm15g9Y1dZb+M1UC/fDisn877F1+gdNNOf/qKPx6wz7U"
    "dFXpMlW6lVZT2An678XwM4JD9Nv1VV/By7gYu+qMUbvhbx24JjwXzKBsYWAr9vgHpQFqCa"
    "37k5tRa85KCj0/d70HFa9k+opwBeNRD9SYhEbURxRM7Ogx1x4E1jmJ7jlziT2mv5ClAvlC"
    "XhGmZp4h8H2fO7+bdwbu92D0BKXR4+7iReiTxAeVvHd5x0R4drN3e9b71O/kzQUrQPVL1F"
    "NLgU1OgfnYwuh9wObjQjqpRmIYQw3rslRJ2DZbNe1O0yWY4rHCB24ELjuFfY6jH1NLsZfv"
    "31llF18Qiqn4EZFvxF3CXyrdbi49cdliGz2SJcLUQiNCLLg/9EAcRsfKTSdPsmtniRglgc"
    "Oe5+iv/gQ57r727d/Qt1f/1/Dtg/ab8+3XCW7Sr++eVHHsuyfFnj3Uadf+7+naZxymYhsU"
    "sw7JuE5yfJz6wue/3BAHK3gLzX4ykPTORkKR5U88SXhmG9LivBKn3syWvlRbMfJN8ysxuv"
    "V6aStIyo15JUR96KO1AFHLAPbyWoyo1TKKl0Ap8HpfB9J5rJe2oLROiqVGVA6/CkZaMbkK"
    "R3S9xRNsmmxOxU9I0hU0w5wvmCy1OeJCUnNLEhzJcjCXRAhhd8xo17bQREqXr5u8qlfNoZ"
    "rFocgU204dEhUKrIZFvS24CQ7VPTyowKFkq0IOpeqSHCp4Pgx4AurgnBFsIWvtHh5WQvyw"
    "BPFDzVo1a9WsdR1eosPGNjVWw8sG0FcLydk6/UWf7+d4jFEkoNhnjMccqriNfqT7B44kEI"
    "RDBUTJd9FQunkjeWUqZg5u3oQtqPTyTIKwQGrShLYQTacQbPf9wDwnci3n0C5ls1zK5ofl"
    "w58b8XLWEpufuWRkP9VyKEOJ1nnuq9/VJKeh2h57XKZ1EB9V4UZHxdToKMOMtJ9eDH27/P"
    "SET4m5gADtS/Sell2B5v1Lbori34miA0xKNe2Sb+zxRXpOSmotN1nLeiPoRrYt6j12bdhj"
    "F8Q/chh9LDRSTOnjoZjnKf01JUiCJdkyV+x5F53Buo08RNglaAoQyn/EQg9LtZbjcXKJKa"
    "Zc9gwiGQ6/qk5zX52JjXL/ViGCkXmDJtFQOQVqWRzshWyZqI1tZE011DGBTcYE4urMoFtM"
    "qVJirVwCqcJdZauSJZAMey18i6AY6eLXCKqh3DAXawMgj2w3PqHU9HGz0i3ksW1ydJPmo6"
    "a2M8Ja2Y1Wtqcqtc2lhjOQktocr9lrtFegyaImi5os1iaL3jbdHKoY7t8tJorRNuEKK78U"
    "DQaXkqdJEucTNHRvW/ewDIsRGKMd5loEdvbd3V18Qlvfjj+gOXVU0gRJ8EzHlidDHP7Ygi"
    "O2yKGN6zrJ82u/CToYWzlIM8UU1ShpGXOVS1opraTb1CKdAEQN1jmf29YuyKxnpanzz9Gc"
    "Ks0hdSb4c/Cvda2glkx/ylff97yDuN1Xt65ZaHMIkmahGwDZprN5jqUfkqeiiFUg0IphXE"
    "Y6+r8OE3wjwHHrsvfrhwTnGFxf/Rw0j+F+Nrg+TcHN5qIm3pGEBvwFgE+JwDCfZyH/9+31"
    "VT7kcZk00bZNgf6HHJtXcWobNp2UYA9glGOfhjllPaGDDPaBC1N1+g4F9ORdafIW7JFQbt"
    "g0C/KpPS5kxAmxFxHipkHt8eF/dLv7+8fdvf2jk8OD4+PDk72QGGeryhjy6cXPQJITishG"
    "I3wYWd58XgF+ljura/wr4+9IfKi5NKY5W8vPHYYL4E+KpeAfgdz7U0AJlp+u704HffTlpn"
    "92cXvhz/JhsFRVKvr61bG9sMVNvzfQW+3+jlFrHV7V4dVWhVf1C+tv+wJSkAUhLwgdJUgo"
    "CUPHkzFU27AkRVRi3l10WWErEeJMcTnuvxWEx3I+HUutevm+eP7+pTWc47ntTEFg6/mtTJ"
    "wQqncnbXZ30htEKps2v2xsw4wa3zW90KSk9kIb7YVGs1hNLScEtZIbrWS9QUZvkGm4wdcM"
    "rgEMbp3sJGRzOfQkzvSK+UmcVVajJ2G6YDmRuctddO/DozayWIQyd4olWZB8QrIGLwPxDj"
    "fZTBZIrbs2ARYhDyhDfzK74P2KdZzklRtlSLDnSO9mac5uFlPOVlmgb+XgcAqNRSjUJjux"
    "3z0+Ck0EHJRZh9vL3mCQNb0mm05JnjdTvLQfE2nDgueml/b1qsSLVPE+qUI9kxCXWaVhaK"
    "5an7UDmiRokvCuSUJmTlgBsm1LZZ3GNT4PNol6qWx+59h25i7p5NCvRP12GQXzcgyOvKY1"
    "1olAQlKcMP2wOSHmI3zWZSbQg6RAI2cJn3IRE5cJ4RA0nsMmbjpGM1jC8TIYF7CvVfVchX"
    "KF2XRfzKv04s87z4D81lZ0/TmQtaP/Eo/wXTj6Gf/pDe1RSXaVdPbZ5+xRvUQrPcSl10Ks"
    "HZtKC8EWamsBZDQ1GXu0CZoweQ/wNWFMLTZFav/oT16afHiX7fZzb6d7eBRl0M/LnLqGM+"
    "i8qc0yREprtbNOJqV03smUOcrJO8ndkaFQqwNzUqqFll8n+NRm/2XxvaeZLbt7gZqTklrN"
    "jVbzW0UdG7ZIoj/43URES8K4+oPfVQKNjf/gd8OmgRUExuUloKu7weCtYrg94trmpJP3dR"
    "GvZrv06yJRm+f4cTGomoE2i4FCVlc/QlKVF8VEWkiK1vKBMnioaiDsN28huh/39iqgK1sV"
    "f7gD6tL7eKjIXVwszhcRE3lVuoimob2JfBFvGgD+/n8RM/Pl"
)
