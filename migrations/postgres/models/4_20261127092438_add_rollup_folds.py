from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "rollup_folds" (
    "level" SERIAL NOT NULL PRIMARY KEY,
    "before" BIGINT NOT NULL
);
COMMENT ON TABLE "rollup_folds" IS 'SQLite: how far the fine rollup rows are folded into the coarser levels.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "rollup_folds";"""


MODELS_STATE = (
    "eJztXW1z2zYS/isYfYk943gc+fWS3s0ojt36Kts527nrtOlQEAlJrClAISHLmlz++2HB91"
    "eTsl4oHj40tQgsAD4LAvsslsvvrTEziOXsX5Nxn9jOyJy03qPvLYrHRPyRUbqHWngyCcvg"
    "Asd9y60e1JPXcd/hNta5KBpgyyHikkEc3TYn3GQUBDrIwM6oz7BtoKlD7DcOwrpOHAdxhj"
    "Ca2OwvovM9NDP5SPy2mUXQTo/NKLF7iNmo5/bY292H/gymiw5NOlx+01NqfpsSjbMh4SNi"
    "iw7++KMFzUKh11brzz/FD5Ma5Jk4UAN+Th61gUksIwaraYCYvK7x+UReu6L8UlaEG+lrOr"
    "OmYxpWnsz5iNGgtkk5XB0SMVzMCTTP7SkgTKeW5enDB90dfFjFHWJExiADPLVATyDtDiC8"
    "1tK0m9sH7f7iQdNaKR36EhHsvUs6o6B/MVRH3v0QhvC2/e7o9Ojs8OToTFSRwwyunP5wuw"
    "6BcQUlPDcPrR+yHHPs1pAYh6CCBtOwno+wnY2rXz+BrBhyElkfxyJo/QshtuGUD4B0p1Rr"
    "VQCP8bNmETrkI/Hz3UkBmv/u3J3/0rnbeXeyCx0y8ZS6T/CNV9KWRQB4CLBuEwBEwzwN8y"
    "dRws0xyYY6LpkA3PBE9/0/VgX/Kue2uEHjllpz75kqgP7h6vri/qFz/Rm6GzvON0vi13m4"
    "gJK2vDpPXN1JqiloBP3n6uEXBD/R77c3FxJe5vChLXsM6z383oIx4SlnGmUzDRuRx9+/6q"
    "MW07q3uGmV1qy40Mtr1zaoeCnLV4grbB7VQI1IKEQ9RGGLHTxm7gf+7hxH95LZxBzSX8lc"
    "gnwlRoSpnrUReLbPF6+ZLQP3hz97/Kvh427jWWCTRCeVuHdxx4S7+2bn/rzz6aKVtRYsAd"
    "XPYUsNBTa+BGZjC7O3j/XHmTBStdg0hhLWZokrQd100bg9Tl7BFA8lPnAjMOwE9hmGfkQt"
    "+Va+d2elTXxOKKb8PSJPxJ7Dv1SY3Y6wxEWNPfRI5ghTAw0IMeD+UJ9YjA6lmU6eRdPWHD"
    "FKfIM9y9BffgcZ5r6y7Tdo28v/V7Dt/frrs+1XCW7crm+flTHs22f5lj2UKdP+/9O0TxlM"
    "+XtQZHeI+3Xi8+OjJ3z56x2xsIQ3d9uPO5K2bCbk7fyxJwlPTE3sOK/EqTMxhS3VVIy8rf"
    "mVGN27rTQVJGnGvBKiC2ijsQBRQwP28lqMqNEwihdDybd6XwfSZaSVJqI0JqIRXbOZZU1f"
    "v8dBW3eyqabiJb0GS0ELnr3mYbVK+i5Xqwzu7q9i+cQ9WC2rHcxhXWdTyj8gQYXRBDvOjI"
    "mrpoMczmxiCPIsGDR2BMlG2B4y2jYNNBLSxWdyr2pV8fN68XMyxqZVhaAHAsth6JsFN8bP"
    "28dHJfi5qJXLz2VZnJ/7z4cGT0AVnFOCDfSItI+PSyF+XID4sfKIKI+I8oiswla02NCk2n"
    "I4fxfaaiDxX6W96PmSMizG0MuUbzNG/VllzEbvFOWNgwQQxIECOIHZRw/CzBuIkcnzGDDz"
    "RmxGhZWnE4Q5kosm1IWTGgoHOZ4dmGVErqQPZVLWy6Ss/5FP8OdarJyVnPtMbDIwnysZlI"
    "FE4yz35UfMiWWossUelWkcxCdluNFJPjU6STEjZafnQ98sOz1mU2KHg/N/Eb0nZZegeW/I"
    "dVH8lijax6RQ0zZ5Yo8L6TkuqbRcZy2rIOO1hMSq+M0mxG/6/o8MRh9xjeRT+qgr5mVKf0"
    "sJEmAJtuxI9ryPzuHcRvxE2CZoDBCK/4iB+nN5luNycoEppo5oGURSHH5ZjWa+lhWZ5d6t"
    "ggcj9XZWrKI0CmTIBewXomasNBIkXVxxYNqxYuUyWKfLIKrtFLr5jCsh1sgTkjLUVtQqOC"
    "FJkdvcF1jykc5/g6UcyjWzwNYAcmJBqWgCp6UbSHObZAfHd5eK2k4JK2XXWtmuqmQUTAVj"
    "ICG1PtpzUGurQHFJxSUVl6zMJd0I8QwmGYSO5/PIMEK9xMEwRd3utaBxguN5/A31TKMHp7"
    "QYwWb0ltkGgcC/L1+uPqGdp9NdNKWWzNch+J9umaIz5MA/JncQm2WwylV18vLRcIwERg4W"
    "kvwwQTUKakZM5YJaUivJOpVIJwBRgXVOp6axDzKrOYhq/TSYUqk5JHuCf47+saoD1oLlT9"
    "rqh651EN335a0rFlofgqRY6BpANulkmrHTP5DnPI+VL9CIaVxEOi5+e4jxDR/HnevOb7sx"
    "ztG9vfnZrx7B/bx7+zEBN5vyiniHEgrwBQAfE45hPU9D/s/725tsyKMySaJt6hz9F1mmU8"
    "aordlyUoA9gFGMfRLmxO4JDaSw902Ysst3IKAW71KLN2ePhDqaSdMgfzSHuYw4JrYQIa4b"
    "1C4f/lu7fXh42j44PDk7Pjo9PT47CIhxuqiIIX+8+hlIckwRaW+EByPLWs9LwM8yV3WFf2"
    "n8LYEP1efaOCPy/NJiOAf+uFgC/gHIbZ8CCrD8dPvlY/cCfb67OL+6v/JW+cBZKgslff1m"
    "ma7b4u6i001G4omFXqOYsmoTPSam5vmi81zFQS5kTW7bmYFybivndqOc2ypTxWbfDvPTn2"
    "QdAYSZUQoOAaJZWMpFkwkRmZF7H12XiPNCDpNM2vFe2cJDsZ4OhVbdRH9OdnDZCvp4KdbM"
    "dyu+HGfmEEJVbNh6Y8M24Ceu2/qytnAlOb8rWqFxSWWF1toKDVexilqOCSol11rJKjxJhS"
    "fVfMNXDK4GDG6V7CRgcxn0JMr08vlJlFWWoydBnnCxkNnzfdTz4JFhRAahzB5jQRYEnxCs"
    "wU09/tbR2URcEFq3TQIsQvygDP3FzJyXX1bRySvDlIgf8aViieoTS6SL1SoN9L2YHFbuZh"
    "EINWmfOGyfngRbBPwo2h3urzvdboaPnI3HJMuayQ+siIg04bh53YEV6lRiIVVsJ1WotiVE"
    "ZZa5MdRXrS/uA4okKJKw1SQhtSYsAdmm5bBP4hpdB+tEvWSqxUtsWlObtDLoV6x8r4iCuQ"
    "kgB27VCudEICEoTpAbWh8R/RG+5zThqC8o0MCawzec+MhmnFsEDacQQk+HaAJHOG566Rz2"
    "tayWy1CuINXxwrxKHf5seXrqTe+iq09QrQz9RSzCrTD0U/bTBvejgtQ3ydTAL+1H1bLgdJ"
    "AjrBZivDWp2CHYTIYWQLpZnbFHk6ARE/cAnxHH1GBjJKN3P7jfMIA3Ce9/6bxtH5+EnzfI"
    "Smu7gh5UUtt6bURSa5VTgsalVFLQxHaUkRTUsQeaRK0KzHGpBu78Kvuq2vYX8+89T0zR3A"
    "JqjksqNddazZvyOtbskGTZER+5oYe5mOZHHio3bk5s5xI8jQ37DORewtEYmVQve2834Rmv"
    "2TKwBMe4GAK6+dLtbsqHG/sUZQZnTn6qMp8zpz+QWc6Hu+Ohs4cs8kQEyv2p/kjET9nHLt"
    "KJZX1APflLxr68eYMGzPbi7tHMFFNqygXtlTWyvbkr6OOlWH/ZEfzhdtXyIU8F/1ei10Wv"
    "STaMYa/l7ch8Hh7or+SGHNRX23GGgRM+BOXncyjTJEjX/NLvmnNn1A701b/QkvsV9oKpHc"
    "o0Jvp9M0kz1p+yRGG/yYQlCv3NJdFQ2ItbnwiOQyoa5lEphfzrkvSMvIxpZaOzk3Jr/Pbj"
    "9x+tFalg3THa/qso2oQ5JjefMt43KJr/meLqQVjsQQjApJB+YHFdRMWVLhbThYrBVjHY2+"
    "Nq3nC0sOtDvmQJL2e6dK/Iy+y6l7UBhDqV8zHf/6trcvIejdhMVLFlfpeBSQlym0IQSCU/"
    "KQZtEgNywzM31zvDtkNs12WckURmWQ1/pV/pLUVucwgjeKHM5Gg6EXUgxTzEb/ltO1z6qh"
    "20MzbplBPppe7FXe+9PTGkqQ1FX2lPnun4JbsfoCXTdivAR84NPPdahJFiAwYqv4YOPboe"
    "ODTCjgyEJsY+umMz0agceQ/9HZ0cvAcnuT1H3njETUt3uS/7E+r1iRgJkW51k8p2Y70DTB"
    "9Q0ORXenhyELQKo3erl2rYb0+Mk2CIhTMMed1VBf9KBVp4wEWbvvA+umFuMaPos3taLjSx"
    "h2YjYhNvFJ5GZrZQkONdk+N9bQTdCp3MW+LlX1kcnavfih7nQKZJ2/IajKKaBADD8Xz+UW"
    "aktHCLia6YSzjG9POMuaeMFc8nM4QXOHjMyzumjh7V0WNdVy119Lid01rl01PHj833/KhD"
    "mA2uK+oQRvk767CfKn+n8nfmk9EOEevNqJVBRL2SvSISisM6L9HPfEzVu5318kk9Edt/97"
    "isRRwRaaRFfFzKIj4usIiPkxYxPFQVEPaqNxDddwcHJdAVtXLRlWVJy5fyzLQ9+d/Bi4i8"
    "6jN4dUO7ANylfQdvo57VH/8DgS7vQg=="
)
