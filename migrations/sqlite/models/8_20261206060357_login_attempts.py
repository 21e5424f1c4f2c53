from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "login_attempts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "address" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* A password check recorded before it runs: a failure unless the password matched. */;
CREATE INDEX IF NOT EXISTS "idx_login_attem_email_3ec083" ON "login_attempts" ("email", "created_at");
CREATE INDEX IF NOT EXISTS "idx_login_attem_address_12540b" ON "login_attempts" ("address", "created_at");
CREATE INDEX IF NOT EXISTS "idx_login_attem_created_fae3e2" ON "login_attempts" ("created_at");
        DROP TABLE IF EXISTS "login_failures";"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "login_attempts";"""


MODELS_STATE = (
    "eJztXftz2zYS/lcw+sX2jOM68vOS3s0ojtO49SNnO3ed1h0KJiGJNQUoBGlZ08v/fgvwIb"
    "5F6kmz+KGpRWAB8lsQ2G93Af7VGjKDWHzvigwfic0H5qj1Dv3VonhI4I+M0l3UwqPRtExc"
    "cPCj5VUP68nr+JE7NtYdKOphixO4ZBCu2+bIMRkVAh1kYD54ZNg2kMuJvcUR1nXCOXIYwm"
    "hksz+J7uyisekM4LfNLIK2u2xMid1FzEZdr8fuzp7oz2A6dGjS/vKbdqn5zSWaw/rEGRAb"
    "Ovj995ZoVhT6bbX++AN+mNQgL4SLGuLn6EnrmcQyYrCahhCT1zVnMpLXLqjzSVYUD/Ko6c"
    "xyh3RaeTRxBoyGtU3qiKt9AreLHSKad2xXIExdy/L1EYDu3fy0ineLERmD9LBrCT0Jae8G"
    "ptdamnZ9c6/dnd9rWiulw0Aigr1/SWdU6B9ulcun74tbeNN+e3hyeHpwfHgKVeRthldOvn"
    "tdT4HxBCU81/et77IcO9irITGegio0mIb1bIDtbFyD+glk4ZaTyAY4FkEbXJhiOx3yIZDe"
    "kGqtCuAhftEsQvvOAH6+PS5A8z+d27PPndvtt8c7okMGb6n3Bl/7JW1ZJACfAqzbRACiYS"
    "cN80coccwhyYY6LpkA3PBF94I/VgX/Ksc2PKBxQ62J/04VQH9/cXV+d9+5+iK6G3L+zZL4"
    "de7PRUlbXp0krm4n1RQ2gv57cf8ZiZ/ot5vrcwkv407flj1O693/1hL3hF2HaZSNNWxEXv"
    "/gaoBaTOv+5KZVmrPiQrPnrteg4qVMX1NcxeJRDdSIhELUR1Qssb2nzPUgWJ3j6H5iNjH7"
    "9BcykSBfwB1hqmctBL7t89Vv5pWB+z0YPcHV6etu43Fok0QHFTw7PDFxvHWzc3fW+Xjeyp"
    "oLloDql2lLDQU2PgVmYytG7yPWn8ZgpGqxYSxKWJslroR100XD9jB5BVPcl/iIBxG3ncA+"
    "w9CPqCXfyvefrLSJ7xCKqfMOkWdiT8S/FMxuDpY41NhFT2SCMDVQjxBDPB96JBajfWmmkx"
    "do2pogRklgsGcZ+svvIMPcV7b9Bm17+f8Ktn1Qf322/SrBjdv17dMyhn37NN+yF2XKtP97"
    "mvYpgyl/DYqsDnG/Tnx8fPCFP/1ySyws4c1d9uOOpFc2EvJW/tibhEemBivOgjh1RibYUk"
    "3FyF+aF8TozmulqSBJM2ZBiM5FG40FiBqaYC+LYkSNhlG8GEqB1bsYSJ8irTQRpSGBRnTN"
    "ZpblLr7GibZuZVNNxUt6DZaClnj3mofVKum7nK0yuHswi+UT93C2rBaYw7rOXOq8R0CF0Q"
    "hzPmZw1eSIO8wmBpBnYNCYA8lG2O4z2jYNNADp4pjcQq0qfl4vfk6G2LSqEPRQYDkMfbPg"
    "xvh5++iwBD+HWrn8XJbF+XnwfmjiDaiCc0qwgR6R9tFRKcSPChA/Uh4R5RFRHpFV2IoW65"
    "tUWw7nvxRtNZD4r9Je9H1JGRbj1MuUbzNG/VllzEY/irLFEQBBuCgQEZg9dA9mXg/uTMZj"
    "hJk3YGMKVp5OEHaQnDRFXRGpoSKQ49uBWUbkSvpQJmW9TMr6h3zCP9di5awk7jOySc98qW"
    "RQhhKNs9yXnzEH01Bliz0q0ziIj8two+N8anScYkbKTs+Hvll2esymxNwRzv959J6UXYLm"
    "/Vuui+JfiaIDTAo1bZNn9jSXnuOSSst11rJKMl5LSqzK32xC/mbg/8hg9BHXSD6lj7piZl"
    "P6G0oQgAVsmUv2vIfORNwGfiJsEzQUEMJ/xECPExnL8Tg5YIoph5aFSIrDL6vRzG1ZkVHu"
    "P6rwYKR2Z8UqSqNAplyI9QJqxkojSdKJisonsE6fQFSdKXTzKVVCrJEhkDLcFWoVhEBS7D"
    "V3h0o+0vlbVMqhXDMTaw0g90w7OqFUtHHT0g3ksU0ydOPLR0Vtp4SVsmutbE9VMs2lgjGQ"
    "kFofr9mvtVWgyKIii4osViaLXgp4BlUMc8PzieI0Bb1E5Jeiy8sr4GlA4nyChrqm0RVhWI"
    "zEYvSG2QYRmX1fv158RNvPJzvIpZY8kAMInm6Z0Bni4h/T4YiNM2jjqjqZHfuN0cFI5CDJ"
    "FBNUo6BmxFQuqCW1kqxTiXQKICqwTtc1jT0hs5pIU+vHnkul5pDsSfxz+K9VRVALpj9pqx"
    "941kF03ZePrlhofQiSYqFrANmkIzdjpb8nL3keq0CgEcO4iHSc/3of4xsBjttXnV93Ypzj"
    "8ub6p6B6BPezy5sPCbiZ61TEeyqhAJ8D8CFxsJjP05D/fHdznQ15VCZJtE3dQf9DlsnLGL"
    "U1m04KsBdgFGOfhDmxeooGUtgHJkzZ6TsUUJN3qcnbYU+Ecs2kaZA/mP1cRhwTm4sQ1w1q"
    "jw//o90+ODhp7x8cnx4dnpwcne6HxDhdVMSQP1z8JEhyTBFpb4QPI8uaz0vAzzJndYV/af"
    "wtwIfqE22YkVr+yWI4B/64WAL+npB7fQoowPLjzdcPl+foy+352cXdhT/Lh85SWSjp6zfL"
    "9NwWt+edy2SqHUz0GsWUVRvoMTE1zucd5yrRcS5r8rXFDJRzWzm3G+XcVkdRbHb7V3C+SV"
    "YIYHr0SUEQIHrMSrl0MRCRR27voasSiVyIM8mkub8nC/dhPu2DVr2T/Hh29tgK+piVTBa4"
    "FWcnknFCqMoNW29u2Ab8xHWbX9aWriTHd0UrNC6prNBaW6HTWayilmOCSsm1VrJKT1pJet"
    "KAubb26OpPpKJHMCHYGGTX7CiRMOaenjgL/6mgwn8B/Of0FaZllRYW0IJLR7apkwyjeKYS"
    "oqJKB/PpQPnylC+vUb68VfqpQr9ehqMq6vPL91RF/YvlHFXhJyFgzbcne6jrwyMTSg1CmT"
    "3ElsmJIfxH3lcm3nCdjeACaN02ifAnwQ/K0J/MzNnnuIpOFkxYJUHur8oqrU9WqQ6zVRro"
    "OxgcVu5iEQo1aZ04aJ8ch0uE+FG0OtxddS4vM6KlbDgkWbw2P8UuItKExKN1p9ip+PRcqn"
    "idTqNqS0JUZpkLQ33VOnMdUCRBkYRXTRJSc8ISkG3a50qSuEbnwTpRL3mqbsdxyHCUuVUw"
    "Vr5bRMG8s36xV7X8mbHB6f/6gABPsokudvEZ6JH0YAgh00G2S/k7hKEJ03LhUmRPXyg8xA"
    "7IZx8Yu9QOHugDvWVjjizzGegds2U1Z2Azx7HIFkdjGIdsjLY5IQiw+oET+9nUCf/Bgyeo"
    "uTea5H5cPMXmwgPzk1wO1m5YXHhW0dzsTiUjvPLvIWx6LV/9FxEiw74sxhGRBqKsjlath+"
    "n/KhhdylDeoOFRcJxd8rj/WYZHtZPtOoiDeUqMNyZFjzYs6CKbUBwhrzP2ZBI0YPAMYBPY"
    "GJbzIZIbdt573yUShwfcfe68aR8dTz9ZlGV5rKAHdVB9vdZ6qbXKx3zHpdRB37NXI273NI"
    "laFZjjUmrZV8v+33nZjzltXkYmNDeHmuOSSs21VvOm3Ms1i4YtO8kzd7dBLqb5mw2Uvz5n"
    "O8cSXMoN+7TzbsKjHBlUs930mwiB1GwaWEIEBG4BXX+9vNyUsz72eekMzpz8/HQ+Z05/9L"
    "pc1tS2j84ussgzAZS9nPVdJPvYQTqxrPeoK3/JJKetLekl91Kr0diEIeU6QHtljeykqRX0"
    "MWt7n+xI/DFNwfdOoknu96tEr4sSbRvGsNeSXZvPw0P9lVyQw/pqOc4wcObZwLKJvSsNGd"
    "YbOy6rdqCvfg/rPHuD1LagRcf1xk4pU9hv8owyhf7mzs1S2Lfm2wGnNr8t71y+gX9Iatk0"
    "/KTcGr/n/Nf31opUsO5k/GDPkTZi3HTM54yNJUXjP1NcvQjzvQghmFScODS/LqLiShfz6S"
    "KaIFJeBVEphbzaC71pP43a5tDwvdCe9/4TS/iX06W7Rf59z7Gv9USSWTnv/t2/L02HvEMD"
    "NoYqXl57z6QEeU0hkcImP9Aq2iSG+BAP8z6sw7DNie056zNO7FtWwyL1/oYirzmEkdizaT"
    "rIHUEd8T0fkTknxIYmdaGCiBLA1R7qxmMd3V2EqYGeCBlxRLA+EMcJPlARTdviSJ5tJMXk"
    "Hbi2Lb4XJE7FgPuSiXnd8FDErrj196LiJHr/DF6tyI08UGZ7DQwwlxsKiLGHbgGMrnywLv"
    "onOt5/J6IX9iS4eWhYxjH80Af6EXW9/Qoy3gF3Au0/UNmqeBgDTySM7yNtHhzvh60GBybC"
    "A0oZ2XQ3cuZQN97DA4UuujLAGKCGtlO97cBjECySGA0jirynUKgYdMu3ZLdw0ZFo4J4Dag"
    "3620PXzJNhFH3xUiBAybtoPCA28Z/AV/bYBt1z/5p81EXTIlcYOXgloZuVJUd6+q0YRghl"
    "mrTir8HeqklWt8i5yI9PR0oLV6/ozLOE2HQwD3mh44pB5wzhOaLJ5c6PDeQiqR3TJqZhiJ"
    "h3MPRXVdvmpWLTy2U7KjatYtMNHNbqjGUVn26+g0pF6TY4r6gonXLL1mE9VW5Z5ZbNJ7Yd"
    "AvPNoJVBav2S3SJCi6d1ZlHZfEzV5t96+beeiR1sTi9rEUdEGmkRH5WyiI8KLOKj1GEfo1"
    "EVhP3qDUT37f5+CXShVi66sixp+VIn8wCv/G8jR0QW+jRy3dAuAHdp30beqJf2+/8B19oP"
    "1A=="
)
