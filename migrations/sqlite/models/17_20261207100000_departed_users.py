"""End users the retention sweep deleted (no event left) whose rollups remain: the Overview keeps
their history (README, Retention: "top end users keep their history after the raw events are
gone"), and SQLite's top end users are read per end user from a list of end users
(app/services/rollups/reads.py, `_end_users`), which lost them with their `end_users` row.
PostgreSQL groups the user rollups themselves and needs no list. Backfilled from the user
rollups of end users already gone (`last_seen`: the end of their latest bucket, an upper bound).
Hand-written: SQLite only."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "departed_users" (
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    "user_id" VARCHAR(256) NOT NULL,
    "last_seen" TIMESTAMP NOT NULL,
    PRIMARY KEY ("project_id", "user_id")
) /* End users deleted by the retention sweep whose rollups stay (app/services/deletion.py). */;
        CREATE INDEX IF NOT EXISTS "idx_departed_users_seen" ON "departed_users" ("project_id", "last_seen");
        INSERT OR IGNORE INTO "departed_users" ("project_id", "user_id", "last_seen")
    SELECT r."project_id", r."user_id",
           strftime('%Y-%m-%d %H:%M:%S', MAX(r."bucket" + r."level"), 'unixepoch') || '.000000+00:00'
    FROM "user_rollups" r
    WHERE NOT EXISTS (SELECT 1 FROM "end_users" u
                      WHERE u."project_id" = r."project_id" AND u."user_id" = r."user_id")
    GROUP BY r."project_id", r."user_id";"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "departed_users";"""


MODELS_STATE = (
    "eJztXW1z2ziS/isofbFd5XgdOXZyyd5VyYmz4x2/5GzndmtXWxRMQhLXFKAhSCuq2fz3Q4"
    "PvbxIpURLFQdVMEpFogHwAAt1PNxq/dybMIBY/uSWTZ2LzsTntfES/dyieEPGPnLvHqIOn"
    "0+geXHDws+UVD8vJ6/iZOzbWHXFriC1OxCWDcN02p47JKAj0kIH5+Jlh20AuJ/YBR1jXCe"
    "fIYQijqc3+TXTnGM1MZyx+28wi6HDAZpTYA8RsNPBaHBydQHsG00WDJh3VX7VLzd9cojls"
    "RJwxsUUD//xnB6qFm35dnX/9S/wwqUF+EA4l4Of0RRuaxDISsJoGiMnrmjOfymvX1PkqC8"
    "KLPGs6s9wJjQpP586Y0bC0SR24OiLicbFDoHrHdgFh6lqW3x8B6N7DR0W8R4zJGGSIXQv6"
    "CaS9B4iudTTt7v5Je7x60rROpg8DiRj2/iWdUeh/8ahcvv0IHuFN9+279+8+nF28+yCKyM"
    "cMr7z/6TUdAeMJSnjunjo/5X3sYK+ExDgCFXowC+vnMbbzcQ3Kp5AVj5xGNsBxEbTBhQjb"
    "aMiHQHpDqrMpgCf4h2YROnLG4ufbiwVo/l/v4fMvvYfDtxdH0CATX6n3Bd/5d7ryFgAeAa"
    "zbBADRsJOF+Yu445gTkg91UjIFuOGLngT/2BT8mxzb4gWNe2rN/W9qAfRP17dXj0+922/Q"
    "3ITz3yyJX+/pCu505dV56uphupvCStDfrp9+QfAT/eP+7krCy7gzsmWLUbmnf3TgmbDrMI"
    "2ymYaN2OcfXA1QS/S6P7lpleaspNDyuWsfuriW6SvCFRaPaqDGJBSiPqKwxA5fcteDYHVO"
    "ovuV2cQc0V/JXIJ8LZ4IUz1vIfB1n+9+NXsG7s9g9ARXo8/dxrNQJ4kPKvHu4o2J462bvc"
    "fPvS9Xnby5oAZUv0U1tRTY5BSYjy2M3mesv8yEkqolhjHcYV2WuhKWzd6adCfpK5jikcQH"
    "XgQeO4V9jqIf65ZiLd9/s9IqvkMops5HRF6JPYc/qVC7udDERYlj9ELmCFMDDQkx4P3QM7"
    "EYHUk1nfwQVVtzxCgJFPY8Rb/+BnLUfaXb71C3l39X0O2D8tvT7TcJblKv734oo9h3PxRr"
    "9nBPqfZKtbfFekQBD83Ac15h2soKrqSQ+s/YmJ7ehD5avMTHFt8kbZbshEtf+OuvD8TC8p"
    "0KtaokT7dnH1qRYpUYsnhqamJBXxOn3tQUqmpbMfI1nzUxevRqaStIUktcE6IrqKPVAGkO"
    "HtUB0hMetRYnamhgRK8LEzVaxjQkUAqMr/VA+hqrpY0oTYioRNdsZlnu+roA1PUgq2orXp"
    "K8qgUt+PbajRW2iO2ItrljUgnGujoU1Pclqq7duNWhLkjEWq0zeFjZrkXqgOrBtfaRMChE"
    "apOcrtQdcgjdQKcoZnND3aVatAbWdeZS5xNyxgRNMeczJq6aHHGH2cRAjFpzhDnCFGF7xG"
    "jXNNBYSC8O1FirVkXaNou0JRNsWlVY21CgHtp2t+AmSNvu+bsSpK0oVUjayntJ0jb4PjT4"
    "AqrgnBFsIU3ePT8vhfj5AsTPFU3+R6XJFY+7WU3RYiOTavUwlTdQVwvpyk3qiz4DnqMxRt"
    "x4sc4YZ+HLqI2+a/2AIwEEmIyMglv+BD0JNW8onkw66UHNG7MZFVqeThB2kJw0oSy47yl4"
    "9309ME+J3EgbSqVslkrZ/DiA8J9b0XI2EgwwtcnQ/FFJoQwlWqe51x9GLaahyhp7XKZ1EF"
    "+UsY0uik2ji4xlpPT0YujbpacndErMHXDFrdLvadkaer5h0S170tEBJksCl17Zy0r9nJRU"
    "vdzkXlY7T7ayT0IF9bchqD/gP3Is+hg1UmzSx6mY5Sb9PSVIgCWsZS6t5xP0Gfw24ifCNk"
    "ETgFD8Twz0PJe+HM8mF5hiykXNIJKx4euqNHevbmyU+68KDEZmy26ioFQKvDgosV6Ikom7"
    "sZ0zqYKKE9gmJxDvzgy6xSZVSqyVLpAytqsotcAFkrFeC7ctFiNdvG+xHMoNU7G2APLQtO"
    "MTSkUdNyvdQju2TYpucvmo2NsZYdXZje5sr6tkmEsFZSAltT275rTRWoEyFpWxqIzFysai"
    "F4SaYyqG0anFhmIUCVvC80vRzc2tsNOEEecbaGhgGgNww2IEi9EbZhsEIvu+f7/+gg5f3x"
    "8hl1oyS5Mw8HTLFI0hDn+YDkdslmM2bqqR5b7fhDmY9ByIPk/biymDY2n5mNq8tKzsp3JP"
    "4WDH5aWKBns2NK6LjztfpJKpC/BXsHVd1zROQGYz/q3On4culeMFyZbgj3f/09m+CiMthD"
    "NPJ4lrG/LVle3bHLNM2b5bANmkUzdHv3giP4p4skCgFcN4kalz9fenhJUT4Hh42/v7UcLS"
    "ubm/+0tQPIb755v7yxTczHUq4h1JKMBXAHxCHAzzeRbyvz7e3+VDHpdJm/em7qD/IMvke5"
    "hxYQH2AMZi7NMwp1ZPqCCDfaAmlZ2+QwE1eZeavB32QijXTJoF+dIcFdrhCbEWpRL5r273"
    "7Ox99/Ts4sP5u/fvzz+chuZ49tYiu/zy+i9gmic6IsuB+DCyvPm8BPwsd1ZX+JfG3xL4UH"
    "2uTXIC2r9aDBfAnxRLwT8Euf3rgAVYfrn/fnlzhb49XH2+frz2Z/mQopU3paH6m2V6ZMnD"
    "Ve8mHeAnJnqNYsqqDfSEmBrnq47ziEMobXCGEu1bSMtEYBfHX2eir4lts5y8pcX6eCjQBm"
    "i3rY2rSOGVumLfnG5ZKjPZ1Y8TbFmFy0ZWukVrx1n3/UW4WsCPRevD423v5kY535Tzbdez"
    "0oadbzGbSiVAU6m9GriBNxxVRV5cf8QtceSGCf7KxfyK0ogNZbpsP822ScHJCnXCDd9/ij"
    "hDzhg78tYIDU3LIbb0x1IkOwlZjL14ubYyIcA1t9Gnh+FZP6LgMYoUtyMkRtlYSIl6oAmu"
    "i79EC0Ad+j7kF0KmcTfxgWgbnMnFgcYkcKGLxhaHFzteD8UUyWru1EWWbsuCh7di4Ba7Wf"
    "2eKmvt+sVb4R5RWzV3va60wgDzFptqQSFxmTpDQ5rbrUsjQZTJtWWTK1zN1zS42pb28Thl"
    "bsW/VXWOUHMM2Y2aIH7K6jwLJMpmvcAAiWfOLmd/CBF5mOcJui2xGxBMBAiM4H5iHzwSE+"
    "pIDBHPsOD5WxA30MayHYlBlNjy3YicEKo2GG53g+EOwv6aNlltbc+bHN8VDYGkpDIEGm0I"
    "RLNYxV5OCKpObnQnqz1uG9njNmaurT27+gupGOCVEmwNsluOe5EwFp4EsAz/SFDhvwb+K4"
    "Z+ZWVVL6zRCy6d2qZOKnolMqKqD1brA8X+qYALxVOV5KnC0IIcoioedlDMVMVDHMoRVeFh"
    "02LNt+cnaODDI3clG4Qye4ItkxNDurHl+dVvuM6m4oLoddskwCeJH5ShfzOzIFnWJhpZfd"
    "ez3D4c8uUre7XVJuHaNwmvEvO4Xqhj0yaxGmMddTaZ5PqEiiO0YyIqRlvFaCvSKLikQgRU"
    "iIAyEpSR0PlYECigwi/qCr/Yjeklj2bqOQ6ZTHPzTSXuHy8ywbwDo7BXtPzBQ8ERkvqYCD"
    "vJJjpE7xromQzFEEKmg2yX8o8IiypMyxWXYomhQuEJdoR8/qlDtTbQp336wGYcWearMO+Y"
    "LYs5Y5s5jkUOOJqJcchm6JATggRWf+LEfjV1wv/kwROUPJnOj0pbc+Gpi2lbTqzdYnFJ54"
    "qSt1a27lQwwp4fqrnrtXzzx2rGhn1ZjGMiLURZBX03Q/XfC4suoyjvUPFYcCZC+szIZYpH"
    "teMReogL9ZQYb0yKnm2xoEM0IZxDqDP2YhI0ZuIdhE5gY7GcT5DMv/LJO9wadjc9/tJ70z"
    "2/iM69ztM8NtCCOu2wWWu97LXKZ8UlpdRpcctXI24PNYlaFZiTUmrZV8v+H3nZT5A2P6am"
    "qG6Fbk5Kqm5udDfvil5umDes7iDPwt0GhZgWbzZQfH3Bdo4aKOVgf9OegVuWUY4Nqmbu52"
    "vYNFCDB0Q8Arr7fnOzK7L+lohX1B+YZbnTTo7NnLh/vMhmnsiSmi2LVtjeF2XqsMgrESh7"
    "MevHSLZxhHRiWZ/QQP6SQU4HB5Il90Kr0cwUQ8qFjCCyRH7Q1AbaWLa9TzYE/4hC8L3Ewu"
    "n9fir9RyPTf4T9V3JBDsur5ThHwVllA8su9q60ZFjvLPt540Df/B7WVfYGqW1B647rnSWd"
    "V9jvMuW8Qn93adAV9p3VdsCpzW/1HbMw9s+8KRuGn5bbnlbT+f1nZ0NdsO1g/DAX9pRx0z"
    "FfczaWLBr/ueLqQ1jtQwjBpJBxaPW+iIurvljxTIxYgEj5LohLKeRXQ16ef1HV6AplFOpq"
    "B/qu2TG1uaTlO9A9n8lXlmL1s3ePF3lVPHeKNoTQvnI+lcf/vTEd8hGN2UwU8XYTDE1KkF"
    "cVgsBBhG3YamDBrgWBLfOSnTNsc2J7LpKcPIl1VQwbHu4p8qpDGMFOWdNB7lSUgTTvEK8I"
    "YhOTuqIA+GY4ZGgfJD1Mg2OEqeEnaydYH0MSxz4FH+YBRzKjlBSTT+DaNhz1DblIILM8hE"
    "MOwlSUA3j0T1BwHn9+Jj6t2IP0KbO9CsaYy20cxDhBDwKMgXyxAfpvdHH6EXxG9jx4eFGx"
    "9B75Dif0ZzTwdolIL5N4ElF/n8pa4WUMPJcwforVeXZxGtYapKkULyhlZNWDWKanQbKFPh"
    "VNDKRbN0ANHWZaOxKvQTCEjhpGHHmvQ0XBoFl+IJsVFx2JBh5C+v2gvRN0xzwZRtE3L/BE"
    "dPIxmo2JTfw38Dt7Zou+5/41+arrBqNu0F+zJw6zjYWkev1b0XkTyrRpxd+CvtWQWHqIdC"
    "mOCojdXbh6xWeeGiICgnnIc9hXdPXnCK/gwy+XtTeQiwXURFVEzp8EJxuyhOpAEBUR0NgZ"
    "UEUE7OewVpmtVVRA+wkq5Rvd4byifKOKlm3CeqpoWUXLFhu2PYvYzhcCyVbseSfHtk0WOF"
    "5k3mIoCq8GZU1SwcSdEM7F8wE/CadQQj1esDlymDwFU8g4JpXnp36UdGWQBecYMdfR2YRI"
    "Zg4OSEDSsZVvDW+gnT7tIdG9OiS00S1sTjhkvIFo+YFFMCeaSx3TGqBDjHQb8zExguIHHE"
    "2FFS4eD/mYzYEFdfALoYiJn30acq6yqhjTWj61jfj4HJd7Znj4OMqobqhRHfVWWWMkkthi"
    "LI8/bjtbMUjelrFH3habI28z1kg8hVZJ/SAu0hrFrDb2Qh5MI+fDLKSLgtHiUiotbPVItP"
    "iUngF+yVlCSdEaNprvUV/s2z5zlTWieCoTL2jcU2vuj8A96Xb/Y1nY675WuFK/p2XV993k"
    "7ztmdlSjLbKCKp9ETnhkYVrtpfxzCwmhXXjt609nLHkJldO4YBapC+AvySr3axopi3J2Em"
    "1UTopMRxSzdInOWk7UhcVLUnV/k5FrGPl05gH3KTSfVuNoxCDNsxwlpo5m5HnM2As69PI0"
    "or8+3t8dIQiUy5BztdXcp4+WQP2NziZT8WrihZFJxQ9g2UKpwe/9jiPM0r5ouu92T7sXPw"
    "dlGbVKxNkfhTXbWKyd/DsDazEbFpRvoV/+bfdDGR6s+6GYCIN7Sc3oRbxaFXyD8m3Et3aa"
    "0bUrpZrwi7cQ2u7puzJjF4oVB5XIm+kNZ7qdFzS1gC0PJVoI80ZmCEU9FaPfXurJO2ne1c"
    "FPuULX54grAqrJBJRy4OzIgRMiuOpXFhdW31iTvzEVl6bi0hrGfK0Xl5bxVPkxXymK3Zf9"
    "+usDsUJyaiHnGAWb7eVslYE9MQ3YrlULTA+inmr07L6M0p8bZ1M9v0ERjxp6FZYxqNEOhX"
    "JhjhCrRZA+xtSPQUQwGNBhX4wFQKovquoLq4Iz65UY/c7RseQ0kSO6OYxdPATukjtQljJZ"
    "wdHHDJ+60db6FEISPYIWEkkxe77Kuemm2ttXuDjuOAwR+lmryr0mhBS9ogjYnROwr9hyc4"
    "bwV4vhgmkklEjhOwSRvVVI8gD9cv/98uYKfXu4+nz9eH1/l7SX5E24JC6YnkL4cNW7SWc+"
    "HYvVY+wnbSmNcUJK4VwCZ38xrkLNxERaMVVsm5hRtHfxrN1e2ltRNJsJwJOqYSVQYxIqol"
    "FxXlvmvNJjtwZgQ85m/wZvWWRj32zlALrdc4n7Mp43z47JUVpEjgVDeBk3FtKcZY6KFi9p"
    "mPATyf9goy7kNvRYK/+DlVtigZ4SYFgynE90DJt5aQ9hq67ku/KOia65dhUjqGIEGzNLbI"
    "Gi8r6WKghHEi3E+KxbAuKzbiHCcGunh1I1TLvYQvYpby7XOIGVoMqu76ygMu9y80xNptg2"
    "ed6+kwWnxyekWjhTlJmLi2fizDy8O7a1aTBvmG4lFN47zwHJmEUwLdguGEmlYH4WYptCOV"
    "Dktovy5f39TYLSu7xOc6rfby+vhKpxlEQ759AQ0KurTBuhwBbznbCXznb0t9pdYBItzQsC"
    "WIXNzpNXYYZNDjOUUaHVPZ9JMeWWK7FOePG3gNmKrqLcCtTX1eSvS/kFi5cy5RdUfkHlxm"
    "qQG6uMu6UwM3dVV0vZXBzNXJwWx2w72B6RWlBSUdvr+aXK5MHIwbiMt2qFhBi9eMLYIMCa"
    "E2pw6TMKs1c4LM8vVUk293CWwDcdz/ySPopFOaO26YzadSavps0W+x9J1EZEF+hgOwh3aR"
    "rC68a7NDM5176ivCQ7167z50M+qnGuKuLdWax8RGWW6RrFuKp4lGapAK/E5rlfebFPIybS"
    "Qj9o9/y8lE//fIFP/zyTw306rYKwX7yF6L49PS3jNDo9LfYawb20R586uXk6IdNekTs/FE"
    "mTm6buoP8gy+T7qG8tABfASDCYmZ0n6U0mx0lqEiq43PUppz//Hy9FFNc="
)
