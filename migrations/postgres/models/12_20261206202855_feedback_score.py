from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "events" ADD "feedback_score" SMALLINT;
        CREATE INDEX IF NOT EXISTS "idx_events_project_c785ad" ON "events" ("project_id", "feedback_score", "created_at");
        -- Backfill: each event's current feedback (its latest, by time then id), as the
        -- feedback commit keeps it from now on (store.set_feedback_scores).
        UPDATE "events" SET "feedback_score" = (SELECT lf."score" FROM "feedback" lf WHERE lf."event_id" = "events"."id" ORDER BY lf."created_at" DESC, lf."id" DESC LIMIT 1) WHERE "id" IN (SELECT "event_id" FROM "feedback");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_events_project_c785ad";
        ALTER TABLE "events" DROP COLUMN "feedback_score";"""


MODELS_STATE = (
    "eJztXVtz2zYW/isYvdiecVxHju1s0t0ZJXEab33J2s5up3WHgklIYk0BCgFa0bT574sDXs"
    "SrROpKs3hoapE4APkdEDh3/NkaMos4/OCSDB+Iywf2qPUG/dmieEjkHzl391ELj0bTe3BB"
    "4AfHbx61U9fxAxcuNoW81cMOJ/KSRbjp2iNhMwoEHWRhPnhg2LWQx4m7wxE2TcI5EgxhNH"
    "LZH8QU+2hsi4H87TKHoN0uG1PidhFzUdcfsbt3AONZzJQD2rS/+q49an/1iCFYn4gBceUA"
    "v/3Wgm7hZtBX6/ff5Q+bWuQb4dACfo4ejZ5NHCsBq20BmbpuiMlIXTun4qNqCC/yYJjM8Y"
    "Z02ng0EQNGo9Y2FXC1T+TjYkGge+F6gDD1HCfgRwi6//DTJv4jxmgs0sOeA3wCav8Bptda"
    "hnF1fWfcnt0ZRivDw5Aihn1wyWQU+C8flau378MjvGi/fHX66vXRyavXsol6zOjK6Xd/6C"
    "kwPqGC5+qu9V3dxwL7LRTGU1CBg1lY3w+wm49r2D6FrHzkNLIhjrOgDS9MsZ1O+QhIf0q1"
    "1gXwEH8zHEL7YiB/vjyZgeZ/OzfvP3Vudl+e7MGATH6l/hd8Fdxpq1sA+BRg0yUAiIFFFu"
    "YP8o6whyQf6iRlCnArID0I/1gX/Ouc2/IFrWvqTIJvagb0d+eXZ7d3ncvPMNyQ86+Owq9z"
    "dwZ32urqJHV1N82mqBP0v/O7Twh+ol+vr84UvIyLvqtGnLa7+7UFz4Q9wQzKxga2Yp9/eD"
    "VELcH1YHEzKq1ZSaL5a9dzYPFKlq8prrB5VAM1RqERDRCFLbb3mLsfhLtzEt2PzCV2n/5M"
    "Jgrkc/lEmJp5G0Eg+3wJunlm4H4PZ094dfq5u3gcySTxSSXfXb4xEf6+2bl93/lw1spbC1"
    "aA6udpTw0FNrkE5mMLs/cBm49jKaQaiWkMd1ibpa5EbbO3hu1h+gqmuK/wgReBx05hnyPo"
    "x9hSLOUHb1ZaxBeEYireIPJE3An8S6XYzaUkLlvso0cyQZhaqEeIBe+HHojDaF+J6eSb7N"
    "qZIEZJKLDnCfqrHyBH3Ney/RZle/X/CrJ92H5zsv06wU3K9e3XZQT79utiyR7uadFei/au"
    "3I8o4GFYeMIrLFtZwoUE0uAZa8PpdcijxVt8bPNNms2STHgXEH/8+YY4WL1ToVSVtNM9sw"
    "+tSLBKTFk8sg25oS+JU2dkS1G1qRgFks+SGN36vTQVJCUlLgnRGfTRaIAMgfurAOkO9xuL"
    "E7UMUKKXhYlaDbM0JFAKla/lQPoY66WJKA2J7MQ0XOY43vKyAPR1o7pqKl7KeLUStODbax"
    "5W67QiqdUqx4QUrmLF9qNotazmH8amyTwq3iIxIGiEOR8zedXmiAvmEgsxqaMhzBGmCLt9"
    "Rtu2hQaSerZreKletZmoXmYiMsS2U8VOFBGsxlC0XXATZqL28asSZiLZqtBMpO4lzUTh92"
    "HAF1AF5wxhAw1z7ePjUogfz0D8WBvm/q6GOW05Wq+s6LC+TY3V2EYuoK8GGkjWKS8GNrcc"
    "iXFqjSuWGeN2vzJiY+DM2+FIAkE43ABH4AG6k2JeTz6ZcguCmDdgYyqlPJMgLJBaNKEtOA"
    "wp+BMDOTBPiFzLGFqkrJdIWX/PY/TnRqSctbgfRy7p2d8qCZQRReMk99UHbsplqLLEHqdp"
    "HMQnZXSjk2LV6CSjGWk5vRj6ZsnpCZkScwHG/0X4nqZdAedr5k9/JowOMZkTKvHEHhfic5"
    "JSc7nOXNax7huJzNZhxE0IIw7tHzkafcw0UqzSx00x81X6a0qQBEtqy1xpzwfoPfht5E+E"
    "XYKGAKH8j1joYaJ8Ob5OLjHFlMuegSSjw6+q09zswNgsD14VLBiZJMFEQyUU+JEXcr+QLR"
    "N3Y7H6qYbaJrBJm0CcnRl0i1WqFFkjXSBldFfZaoYLJKO9FiZKFSNdnClVDuWaiVgbALln"
    "u/EFpaKMm6VuoB7bJEE3uX1U5HaGWDO71sz2WaXCXCoIAymqzek1h7WWCrSyqJVFrSxWVh"
    "b9UPkcVTGKoS9WFKeh+iU8vxRdXFxKPU0qcYGChrq21QU3LEawGb1grkUgsu/Ll/MPaPfp"
    "dA951FF1YaSCZzq2HAxx+McWHLFxjtq4rkHm+34T6mDMc5DWFFOqxoyWMVF5RivFlXljCi"
    "w8PqdRGAducFN+vunGldRYgLaCHut5tnUANOvxXbV+7HlUzQWkRoJ/Xv2rtXnxREn/R768"
    "EZck1KtrvbY+KpfWazcAsk1HXo7scEe+FdnAQoJGTONZaszZL3cJDSbEcfey88teQou5uL"
    "76KWwew/39xfW7FNzMExXxnlJowBcAfEgEhvU8C/m/b6+v8iGP06RVd9sU6C/k2PwZ5m/P"
    "wB7AmI19GubU7gkdZLAPhaKyy3dEoBfvUou3YI+EcsOmWZDf2f1CHTtB1qDCBP9ot4+OTt"
    "uHRyevj1+dnh6/PoxU7eytWTr3u/OfQO1OMCJr3whgZHnreQn4We6qrvEvjb8j8aHmxBjm"
    "BKt/dBgugD9JloK/B3TPjwEzsPxw/eXdxRn6fHP2/vz2PFjlI/OruqmU06+O7RtCbs46F+"
    "ngPbnQGxRTVm2iJ8j0PF90nk/tBqUVzoiieRtpmejq4tjqTGQ1cV2WUwWxWB6PCJoA7aal"
    "cR0FvBArnptDLWvETLL6dogdp3DbyFI3aO84ap+eRLsF/Ji1P9xedi4utGNNO9a2vSqt2b"
    "EW06l0OSVdKKiGybnRrCry0AYzbo6TNioXVi6eV7ZGrKeK7wZFe20KDlToE24EvlHEGRID"
    "LNStPurZjiCu8rVSpJiEHMYe/co9mfDeFY9xT3ejk0Nkw300Fdz2kJxlA0kl+4EhuCn/J0"
    "cA02HgH34kZBR3Ae/IscFRXBxETEL3uBxsduiw8Dm0sDt1lqbbsMDgjSi4xW7WgFNltd2g"
    "eSPcIzoNc9v7SiMUMH+zqRYUEqdZZWhIfdk6NxJEq1wbVrmi3XxJhatphWf3U+pW/FvVp5"
    "LUR5FdqwoSFMDN00CmtXFnKCDxOrzl9A9Joo4GPECXJTL9QEWAwAgeFO3Bfbmg9uUU8RUL"
    "np9euIYx5mUbhlFi8zMNOSFUJw9uNnlwC2F/dVusNpbPpuZ3RUUgSakVgVorAtNVrCKXE4"
    "SaybVmss5fW0v+2oB5rvHgmY+kYoBXirAxyG447kXBWHgMyTz8p4Qa/yXwXzD0K0urubAE"
    "Fzw6cm2TVPRKZEg1Dxbjgbb+6YALbacqaaeKQgtyDFXxsINiS1U8xKGcoSo6ulbu+e7kAH"
    "UDeFTGsUUoc4fYsTmxlBtbnYb7gptsJC9Irrs2AXuS/EEZ+oPZBYWw1jHIkhnNkb1cJwnX"
    "J0l4kZjH5UId67aIrTDW0WTDYa5PqDhCO0aiY7R1jLY2GoWXdIiADhHQSoJWElpvCgIFdP"
    "jFqsIvtqN6qWOXOkKQ4Si3llTi/v4sFcw/DAr7TcsfKhQeD2kOiNSTXGJC9K6FHkhPTiFk"
    "C+R6lL9BWHZhO568FCv6FBEPsZD0+ScKrXSAe3pPb9iYI8d+kuodc1UzMXCZEA7Z4Wgs5y"
    "Ebo11OCJJY/cCJ+2SbhP/gwxO2PBhN9kprc9GJimldTu7dcnPJrQ+1sHangxGe+YGZ297L"
    "139kZmzal8U4RtJAlHXQdz1E/2eh0WUE5S0KHjPOO0ifBzlP8Kh29EEHcSmeEuuFTdGDKz"
    "d0iCaEMwZNxh5tggZMvoOUCVwst/MhUvVX3voHV0N20+2nzov28cn0TOs8yWMNI+iTDOu1"
    "1yuuVT4HLkmlT4Kbvxtxt2co1KrAnKTS277e9v/O237CaPNtZMvuFmBzklKzudZs3pZ5uW"
    "besFUHeRZmGxRiWpxsoO31BekcKzAph/lNzwzcshbl2KSqZz5fzZaBFXhA5COgqy8XF9sy"
    "1l8S+YrmDXMcb9TK0ZkT9/dn6cxD1dJwVdMK6X3TSh0OeSISZT9mfR+pMfaQSRznLeqqXy"
    "rIaWdHWcn90Go0tuWU8qAiiGqRHzS1hjHmpfepgeCPaQi+X1g4ne+ny3/UsvxHxL+SG3LU"
    "Xm/HOQLOIgks28hdaci03lr189qBvv4c1kVyg3Ra0LLzemtF5zX22yw5r9HfXhl0jX1rsQ"
    "w4nfy2umMWBsGZN2XD8NN0m5NqWn9+b62JBZsOxo9qYY8Yt4X9lJNYMmv+55LrD2GxDyEC"
    "k0LFocV5ESfXvFjwTIxYgEh5FsSpNPKLIa/Ov6iqdEU0GnWdgb5t65hOLml4BrrvM/nIUl"
    "b97N39WV4V351i9CC0r5xP5fY/F7Ygb9CAjWUTP5ugZ1OC/K4QBA4i7EKqgQNZCxJb5hc7"
    "Z9jlxPVdJDl1ElfVMSQ8XFPkd4cwgkxZWyBvJNtAmXeIVwSyoU092QB8MxwqtHeTHqbuPs"
    "LUCoq1E2wOoIjjPQUf5g5HqqKUIlNP4LkuHOMNtUigsjyEQ3ajUpRdePS30HASf34mP63Y"
    "g9xT5vodDDBXaRzEOkA3EoyuerEu+ic6OXwDPiN3Ej687Fh5jwKHE/oRdf0sEeVlkk8i+7"
    "+nqld4GQtPFIxvY30enRxGvYZlKuULKhrVdTdW6ambHOGeyiG6yq0booZ2M6PtydcgGEJH"
    "LSuOvM9Q2TAclu+oYeVFodDAPSi/H453gK6YT8Mo+uwHnkgm76PxgLgkeIOA2WNX8p4H19"
    "SrLhuMukZ/zTNxmK0tJNXnb0XnTUTTpB1/A/JWTWLpIdKlOCogdnfm7hVfeVYQERCuQ77D"
    "vqKrP4d4AR9+uaq9IV0soGbaxdT5k7DJRlZCfSCIjgio7QqoIwKe57TWla11VEDzDVTaN7"
    "rFdUX7RrVZtg77qTbLarNssWLbIXK9GbRylNrgzv4shRZP28xTZYsx1SnX9bJvPRE3LAlQ"
    "ViKOkTRSIj4uJREfz5CIjzMlVkajKggHzRuI7svDwxLoylaF6Kp7acmXityyaXCubZHUG5"
    "Gks25tU6C/1BFXzxDtGeACGNBzcXRUOhBqP5lDCx2827aV9vv/ATU4K5w="
)
