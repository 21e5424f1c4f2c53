from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "end_users" ADD "hour_events" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_cost_nano" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_bucket" BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE "end_users" ADD "hour_unpriced" BIGINT NOT NULL DEFAULT 0;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "end_users" DROP COLUMN "hour_events";
        ALTER TABLE "end_users" DROP COLUMN "hour_cost_nano";
        ALTER TABLE "end_users" DROP COLUMN "hour_bucket";
        ALTER TABLE "end_users" DROP COLUMN "hour_unpriced";"""


MODELS_STATE = (
    "eJztXWtz2zYW/SsYfbE943gc+blJd2cUx269le2s7ex2WncomIQk1hSg8GFZk81/X1zwIb"
    "5FSqJEcfGhqUXgAuC5IHDPxQXwvTViGjGsgxsyeiamNdTHrQ/oe4viEeF/pKTuoxYej2dp"
    "8MDGz4abPcgnnuNnyzaxavOkPjYswh9pxFJNfWzrjIJAB2nYGj4zbGrIsYi5YyGsqsSykM"
    "0QRmOT/UVUex9NdHvIf5vMIGi3xyaUmD3ETNRza+ztHUB9GlN5hTodrL5oh+rfHKLYbEDs"
    "ITF5BX/80YJiIdErq/Xnn/yHTjXyRizIAT/HL0pfJ4YWgVXXQEw8V+zpWDy7pvaVyAgv8q"
    "yozHBGdJZ5PLWHjAa5dWrD0wHhzcU2geJt0wGEqWMYnj580N3Gz7K4TQzJaKSPHQP0BNJu"
    "A2bPWopye/eoPFw+KkoroUNfIoS990hlFPTPm2qJtx9AE9613x+fHZ8fnR6f8yyimcGTsx"
    "9u1TNgXEEBz+1j64dIxzZ2cwiMZ6CCBpOwXgyxmY6rnz+GLG9yHFkfxzxo/QczbGddPgDS"
    "7VKtqgAe4TfFIHRgD/nP96c5aP67c3/xS+d+9/3pHlTI+FfqfsG3XkpbJAHgM4BVkwAgCr"
    "aTMH/mKbY+IulQRyVjgGue6IH/R1XwV9m3+Qtqd9SYet9UDvSP1zeXD4+dmy9Q3ciyvhkC"
    "v87jJaS0xdNp7OluXE1BIeg/14+/IPiJfr+7vRTwMssemKLGWb7H31vQJuzYTKFsomAt9P"
    "n7T33UIlr3Bjel1JgVFZo/dm2DilcyfM1whcmjHKghCYmohyhMsf2X1PnAn52j6F4xk+gD"
    "+iuZCpCveYswVdMmAs/2+eoVs2Xg/vB7j/909rmbeBLYJOFOxd+dvzGx3Xmz83DR+XzZSh"
    "sLVoDql1lJDQU2OgSmYwu99xmrLxNupCqRbgwprM1iT4K8yaRRexR/gikeCHzgRaDZMexT"
    "DP2QWrKtfO/NCpv4NqGY2h8QeSXmFP6l3Oy2uCXOc+yjFzJFmGqoT4gG74eeicHoQJjp5I"
    "0XbUwRo8Q32NMM/dVXkGLuS9t+g7a9+H8J297Pvz7bvkpwo3Z9+7yIYd8+z7bsIU2a9v+f"
    "pn3CYMqeg0KzQ9SvE+0fnzzhq1/viYEFvJnTftSRtGU9IWvmj3xJeKwrfMZZEqfOWOe2VF"
    "Mx8qbmJTF6cEtpKkjCjFkSoksoo7EAUU0B9rIsRlRrGMWLoORbvcuBdBUqpYkojQgvRFVM"
    "ZhjO8nMclHUvimoqXsJrsBK04NtrHlZV0ncxWqVwd38UyybuwWhZbmEOqypzqP0RcSqMxt"
    "iyJow/1S1k2cwkGifPnEFji5NshM0Bo21dQ0Munb8mt1Spkp/Xi5+TEdaNMgQ9EFgNQ98s"
    "uBF+3j45LsDPea5Mfi7Sovzc/z4U+ALK4JwQbKBHpH1yUgjxkxzET6RHRHpEpEekClvRYA"
    "OdKqvh/F0oq4HEv0p70fMlpViMMy9Tts0Y9mcVMRu9VZQdC3EgiAUJsAJzgB65mdfnLRPr"
    "MWDmDdmEcitPJQjbSAyakBdWaigs5Hh2YJoRWUkd0qSsl0lZ/yWf4M+1WDmVrPuMTdLX30"
    "oZlIFE4yz31UfM8WGotMUelmkcxKdFuNFpNjU6TTAjaadnQ98sOz1iU2LLBuf/InqPy65A"
    "816T66L4LVG0j0mupk3yyl4W0nNUUmq5zlqWQcZrCYmV8ZtNiN/0/R8pjD7kGsmm9GFXzH"
    "xKf0cJ4mBxtmwJ9nyALmDdhv9E2CRoBBDy/4iGnqdiLcfl5BxTTC1eMogkOPyqCk3dlhXq"
    "5d6rggcjsTsrklEYBSLkAuYLnjOSGgqSzs/Y181IsnQZrNNlENZ2At1sxhUTa+QKSRFqy3"
    "PlrJAkyG3mBpZspLN3sBRDuWYW2BpAjg0oJU3gpHQDaW6T7ODo7FJS2wlhqexaK9tVlYiC"
    "KWEMxKTWR3sOa20VSC4puaTkkqW5pBshnsIkg9DxbB45i1AvsDBMUbd7w2kc53gef0M9Xe"
    "vBKi1GMBm9Y6ZGIPDv69frz2j39WwPOdQQ53Vw/qcaOq8MWfCPbluITVJYZVWVzF8ajpDA"
    "0MJCnB/GqEZOzpCpnJNLaCWepxTpBCBKsE7H0bUDkKlmIar1U9+hQnNI1AT/HP+jqgXWnO"
    "FP2OpHrnUQnvfFq0sWWh+CJFnoGkDW6dhJmekfyVuWx8oXaEQ3ziMdl789RviGj+PuTee3"
    "vQjn6N7d/uxnD+F+0b37FIObOXZJvGcSEvAFAB8RG8N4noT8nw93t+mQh2XiRFtXbfRfZO"
    "hWEaO2ZsNJDvYARj72cZhjsycUkMDeN2GKDt+BgBy8Cw3eNnsh1FJ0mgT5kz7IZMQRsYUI"
    "cd2gdvnw39rto6Oz9uHR6fnJ8dnZyflhQIyTSXkM+dP1z0CSI4pIeiM8GFnaeF4AfpY6qk"
    "v8C+NvcHyoOlVGKZHnVwbDGfBHxWLw90Fu+xSQg+Xnu6+fupfoy/3lxfXDtTfKB85SkSjo"
    "6zdDd90W95edbjwSjw/0CsWUlevoETHZzxft5zIOciFrctvWDKRzWzq3G+XclidVbHZ3mH"
    "/8SdoSwOxklJxFgPApLMWiybiIOJH7AN0UiPNCFhNM2vK2bOEBH08HXKvuQX9WenBZBXXM"
    "izXz3Yrz48wsQqiMDVtvbNgG/MR1G1/WFq4k+ndJKzQqKa3QWluhs1GspJYjglLJtVayDE"
    "+qJDxpyBxTeXbUF1LSIxgTbAyya3aUCBgzD1ech/9MUOK/BP4L+gqTslILS2jBoWNTV0mK"
    "UTxXCWFRqYPFdCB9edKX1yhfXpV+qsCvl+KoCvv8sj1VYf9iMUdVcGMEn/PN6QHqefCIgF"
    "KNUGaOsKFbRAP/kXsJxTtLZWP+gGvd1An4k/gPytBfTM/YBllFJUsGrBI/9ldGldYnqlTl"
    "o1US6AfeOYzMySIQatI8cdQ+Ow2mCPiRNzs83HS63ZTVUjYakTRemx1iFxJpQuDRukPs5P"
    "r0QqrYTqdRuSkhLLPKiaG+ap07D0iSIEnCVpOExJiwAmSbdptJHNfwOFgn6iUO3b3CuuGY"
    "pJVCvyLp+3kUzD0KuO9mLRExABKc4gS3BKhDor7AzX5jGz1zCtQ3pnCbnz00mW0bBA0c2E"
    "xFB2gMi/nuRQMZ7GtVJRehXMGh9wvzKhkGsOUXFWx6Fq3+qgJp6C9iEW6FoZ+wnzY4H+Uc"
    "ghY/JH7efFTuPLQOsrjVQrR3OuUzBJuIIDM4eFxl7EUnaMj4OyCMTEw1NkJiH8dH9zYb2F"
    "P+8EvnXfvkdHbRTdoB5xXUII83r9dEJLRW+nDoqJQ8Hjo2HaUcD22ZfUWgVgbmqFQDZ355"
    "Drec9hfz772NdV7cAmqOSko111rNm/I61myRZNWxf5lB6JmYZsegSzduRpT/CjyNDbsQeD"
    "/maAx1qvne2014xms2DKzAMc6bgG6/drub8uFGLiVO4czxS4uzOXPyquRiPtxdD519ZJBX"
    "wlF2Q5n3kahjD6nEMD6invglYl92dlCfmd4OLDTReZdybE57RY50b24Fdczb9SUqgj9mkd"
    "nuASXxbWCl6HVe/GXDGPZagi6zeXigv4ITcpBfTscpBs4i+xo2saWhId16Y6co1Q706rc2"
    "LrJlRO4WWbZfb+zwKon9Jo+ukuhv7jgliX1rsY1Rck/U6o5rG3pnZxaNzo7LrfEW4O8/Wh"
    "WpYN0x2v5WFGXMLN3WX1P2G+T1/1Rx+SEs9iEEYFI4iGZxXYTFpS7kRs1NewtkDHbDN2q6"
    "PuQrFvNyJlP387zMrntZ6UOoUzEf88O/urpNPqAhm/Aspjjpq69TgtyiEARSicsloUyiwS"
    "0hzL31g2HTIqbrMk45TmxVBT/RJ3pHkVscwgg2lOk2csY8D1w2AvFbIDbSqcMzgK+aP+2j"
    "XtTj3ttHmGrohZCxhQhWh3DW2ROFNZ0dC4mAZCEmWuCYJlxmAlv2ebtEeFgvOLGtB03/CB"
    "mn4fYz/mmFGvJEmekWMMSWCJQm2gG652D0xIv10N/R6eEH8KGbU7/xvGDhTfcc8Ogn1Hsm"
    "ff4ZC687bwkv/4mKUuFlNDwVMH4MlXl0ehiU6p/mxl9QyIiie6EDUXrRGp4or6Inlrl81N"
    "BuorY9/hoEQyidpoWRdxXKM/rVWjuiWv7QFmjgvs3V6td3gG6ZK8Mo+uIuxHMl76PJkJjE"
    "ewNP2ROT697ynolXXTY4r0L/9ZYsIFQWoufqt6QzO5Bp0oy/BnurJrHFsPKfvUoaSs2dvc"
    "IjzwpWSP1xyF3ALLn0mSK8wJpm1uGWclVTrmrWddSSq5rb2a3loa1yZbP5TiW5vrPBcUWu"
    "70hXah3mU+lKla7UbDLaIXy8GbZSiKiXsp9HQvEszzz6mY2p3DZaL5/UKzH9bc1FLeKQSC"
    "Mt4pNCFvFJjkV8EreI4aMqgbCXvYHovj88LIAuz5WJrkiLW77UTj0RKPuy1ZDIUnet1g3t"
    "HHBXdtnqRj2rP/4HzbTtiQ=="
)
