"""Text search (app/services/search.py): the index of events' words, built here for the
events already stored and kept by the writer's transaction from then on. Hand-written: the
models cannot declare it (an FTS5 table, its key map and triggers)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "event_search_ids" (
    "key" INTEGER PRIMARY KEY NOT NULL,
    "event_id" CHAR(36) NOT NULL
) /* The text search index's key of each event: (millisecond of created_at << 22) + sequence.
     No index on event_id: an event's key is found in its millisecond's key range (a random
     UUID index cost ~50 us an ingested event). */;
        CREATE VIRTUAL TABLE IF NOT EXISTS "event_search" USING fts5(
    input, output, content='', tokenize="unicode61 remove_diacritics 0"
);
        INSERT INTO "event_search" ("event_search", rank) VALUES ('automerge', 8);
        INSERT INTO "event_search_ids" ("key", "event_id")
    SELECT (ms << 22) + ROW_NUMBER() OVER (PARTITION BY ms ORDER BY created_at, id) - 1, id
    FROM (SELECT CAST(ROUND((julianday(created_at) - 2440587.5) * 86400000) AS INTEGER) AS ms,
          created_at, id FROM "events");
        INSERT INTO "event_search" (rowid, input, output)
    SELECT m."key", substr(e.input, 1, 50000), substr(e.output, 1, 50000)
    FROM "event_search_ids" m JOIN "events" e ON e.id = m.event_id ORDER BY m."key";
        CREATE TRIGGER IF NOT EXISTS "events_search_insert" AFTER INSERT ON "events" BEGIN
    INSERT INTO "event_search_ids" ("key", "event_id")
        SELECT CASE WHEN last >= k THEN last + 1 ELSE k END, new.id FROM (
            SELECT k, (SELECT MAX("key") FROM "event_search_ids" WHERE "key" < k + 4194304)
                AS last
            FROM (SELECT CAST(ROUND((julianday(new.created_at) - 2440587.5) * 86400000)
                          AS INTEGER) << 22 AS k));
    INSERT INTO "event_search" (rowid, input, output) VALUES (last_insert_rowid(),
        substr(new.input, 1, 50000), substr(new.output, 1, 50000));
END;
        CREATE TRIGGER IF NOT EXISTS "events_search_delete" AFTER DELETE ON "events" BEGIN
    INSERT INTO "event_search" ("event_search", rowid, input, output)
        SELECT 'delete', "key", substr(old.input, 1, 50000), substr(old.output, 1, 50000) FROM "event_search_ids"
        WHERE "key" >= (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) AND "key" < (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) + 4194304 AND event_id = old.id;
    DELETE FROM "event_search_ids"
        WHERE "key" >= (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) AND "key" < (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) + 4194304 AND event_id = old.id;
END;
        CREATE TRIGGER IF NOT EXISTS "events_search_update"
    AFTER UPDATE OF input, output, created_at ON "events" BEGIN
    INSERT INTO "event_search" ("event_search", rowid, input, output)
        SELECT 'delete', "key", substr(old.input, 1, 50000), substr(old.output, 1, 50000) FROM "event_search_ids"
        WHERE "key" >= (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) AND "key" < (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) + 4194304 AND event_id = old.id;
    DELETE FROM "event_search_ids"
        WHERE "key" >= (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) AND "key" < (CAST(ROUND((julianday(old.created_at) - 2440587.5) * 86400000) AS INTEGER) << 22) + 4194304 AND event_id = old.id;
    INSERT INTO "event_search_ids" ("key", "event_id")
        SELECT CASE WHEN last >= k THEN last + 1 ELSE k END, new.id FROM (
            SELECT k, (SELECT MAX("key") FROM "event_search_ids" WHERE "key" < k + 4194304)
                AS last
            FROM (SELECT CAST(ROUND((julianday(new.created_at) - 2440587.5) * 86400000)
                          AS INTEGER) << 22 AS k));
    INSERT INTO "event_search" (rowid, input, output) VALUES (last_insert_rowid(),
        substr(new.input, 1, 50000), substr(new.output, 1, 50000));
END;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TRIGGER IF EXISTS "events_search_update";
        DROP TRIGGER IF EXISTS "events_search_delete";
        DROP TRIGGER IF EXISTS "events_search_insert";
        DROP TABLE IF EXISTS "event_search";
        DROP TABLE IF EXISTS "event_search_ids";"""


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
    "4WDH5aWKBns2NK6Lj7vqM6fNsmRl1Wxk6LcKRrLrmsYJyGzGMdb589ClcqAh2RL88e5/Ot"
    "vXfaRpceYpM3E1Rb66MpqbY88po3kLIJt06uYoJk/kRxHBFgi0YhgvspGu/v6UMI8CHA9v"
    "e38/SphIN/d3fwmKx3D/fHN/mYKbuU5FvCMJBfgKgE+Ig2E+z0L+18f7u3zI4zJpXsDUHf"
    "QfZJl8D1M1LMAewFiMfRrm1OoJFWSwD/SrstN3KKAm71KTt8NeCOWaSbMgX5qjQgM+Idai"
    "HCT/1e2enb3vnp5dfDh/9/79+YfT0I7P3lpk0F9e/wVs+kRHZMkTH0aWN5+XgJ/lzuoK/9"
    "L4WwIfqs+1SU4k/FeL4QL4k2Ip+Icgt38dsADLL/ffL2+u0LeHq8/Xj9f+LB9yu/KmNDx/"
    "s0yPZXm46t2kIwPFRK9RTFm1gZ4QU+N81XEekQ+lDc5Qon0LaZnQ7eLA7UzYNrFtlpPwtF"
    "gfDwXaAO22tXEVYrxSV+ybty7LgSa7+nGCLatw2chKt2jtOOu+vwhXC/ixaH14vO3d3Civ"
    "nfLa7XpW2rDXLmZTqcxpKidYA3f+hqOqyP3rj7glHuAwM2C5YGFRGrGhzLPt5+c2KXhnoU"
    "644TteEWfIGWNH3hqhoWk5xJaOXIpkJyGLsRcvSVcmdrjmNvr0MDwkSBQ8RpHidoTEKBsL"
    "KVEPNMF18ZdoAahD3/n8Qsg07l8+EG2DF7o4QpkEvnfR2OK4ZMfroZgiWc2dusjSbVnU8V"
    "YM3GI3q99TZa1dv3gr3CNqj+eu15VWGGDeYlMtKCQuU2doSHO7dWkkiDK5tmxyhav5mgZX"
    "2/JFHqfMrfi3qg4gao4hu1ETxM91nWeBRGmwFxgg8ZTb5ewPISJPAT1BtyW2EYKJAIER3M"
    "8IhEdiQh2JIeIZFjx/7+IG2li2lTGIElu+jZETQtXOxO3uTNxB2F/TJqutbZaT47uiIZCU"
    "VIZAow2BaBar2MsJQdXJje5ktTluI5vjxsy1tWdXfyEVA7xSgq1BdstxLxLGwiMEluEfCS"
    "r818B/xdCvrKzqhTV6waVT29RJRa9ERlT1wWp9oNg/FXCheKqSPFUYWpBDVMXDDoqZqniI"
    "QzmiKjylWqz59vwEDXx45HZmg1BmT7BlcmJIN7Y8+PoN19lUXBC9bpsE+CTxgzL0b2YWZN"
    "naRCOrb5eWm4hDvnxlr7baJFz7JuFVYh7XC3Vs2iRWY6yjziaTXJ9QcYR2TETFaKsYbUUa"
    "BZdUiIAKEVBGgjISOh8LAgVU+EVd4Re7Mb3kmU49xyGTaW6iqsT940UmmHfSFPaKlj+xKD"
    "h7Uh8TYSfZRIfoXQM9k6EYQsh0kO1S/hFhUYVpueJSLKNUKDzBjpDPP66o1gb6tE8f2Iwj"
    "y3wV5h2zZTFnbDPHscgBRzMxDtkMHXJCkMDqT5zYr6ZO+J88eIKSJ9P5UWlrLjyuMW3Lib"
    "VbLC7pJFPy1srWnQpG2PPTOHe9lm/+PM7YsC+LcUykhSiroO9mqP57YdFlFOUdKh4LDlNI"
    "Hza5TPGodq5CD3GhnhLjjUnRsy0WdIgmhAMMdcZeTILGTLyD0AlsLJbzCZL5Vz55p2LD7q"
    "bHX3pvuucX0YHZeZrHBlpQxyQ2a62XvVb5kLmklDpmbvlqxO2hJlGrAnNSSi37atn/Iy/7"
    "CdLmx9QU1a3QzUlJ1c2N7uZd0csN84bVHeRZuNugENPizQaKry/YzlEDpRzsb9ozcMsyyr"
    "FB1cz9fA2bBmrwgIhHQHffb252RdbfEvGK+gOzLHfaybGZE/ePF9nME1lSs2XRCtv7okwd"
    "FnklAmUvZv0YyTaOkE4s6xMayF8yyOngQLLkXmg1mpliSLmQEUSWyA+a2kAby7b3yYbgH1"
    "EIvpdYOL3fT6X/aGT6j7D/Si7IYXm1HOcoOKtsYNnF3pWWDOudZT9vHOib38O6yt4gtS1o"
    "3XG9s6TzCvtdppxX6O8uDbrCvrPaDji1+a2+YxbG/pk3ZcPw03Lb02o6v//sbKgLth2MH+"
    "bCnjJuOuZrzsaSReM/V1x9CKt9CCGYFDIOrd4XcXHVFyueiRELECnfBXEphfxqyMvzL6oa"
    "XaGMQl3tQN81O6Y2l7R8B7rnM/nKUqx+9u7xIq+K507RhhDaV86n8vi/N6ZDPqIxm4ki3m"
    "6CoUkJ8qpCEDiIsA1bDSzYtSCwZV6yc4ZtTmzPRZKTJ7GuimHDwz1FXnUII9gpazrInYoy"
    "kOYd4hVBbGJSVxQA3wyHDO2DpIdpcIwwNfxk7QTrY0ji2KfgwzzgSGaUkmLyCVzbhjPCIR"
    "cJZJaHcMhBmIpyAI/+CQrO48/PxKcVe5A+ZbZXwRhzuY2DGCfoQYAxkC82QP+NLk4/gs/I"
    "ngcPLyqW3iPf4YT+jAbeLhHpZRJPIurvU1krvIyB5xLGT7E6zy5Ow1qDNJXiBaWMrHoQy/"
    "Q0SLbQp6KJgXTrBqihw0xrR+I1CIbQUcOII+91qCgYNMsPZLPioiPRwENIvx+0d4LumCfD"
    "KPrmBZ6ITj5GszGxif8GfmfPbNH33L8mX3XdYNQN+mv2xGG2sZBUr38rOm9CmTat+FvQtx"
    "oSSw+RLsVRAbG7C1ev+MxTQ0RAMA95DvuKrv4c4RV8+OWy9gZysYCaqIrI+ZPgZEOWUB0I"
    "oiICGjsDqoiA/RzWKrO1igpoP0GlfKM7nFeUb1TRsk1YTxUtq2jZYsO2ZxHb+UIg2Yo97+"
    "TYtskCx4vMWwxF4dWgrEkqmLgTwrl4PuAn4RRKqMcLNkcOk6dgChnHpPL81I+Srgyy4Bwj"
    "5jo6mxDJzMEBCUg6tvKt4Q2006c9JLpXh4Q2uoXNCYeMNxAtP7AI5kRzqWNaA3SIkW5jPi"
    "ZGUPyAo6mwwsXjIR+zObCgDn4hFDHxs09DzlVWFWNay6e2ER+f43LPDA8fRxnVDTWqo94q"
    "a4xEEluM5fHHbWcrBsnbMvbI22Jz5G3GGomn0CqpH8RFWqOY1cZeyINp5HyYhXRRMFpcSq"
    "WFrR6JFp/SM8AvOUsoKVrDRvM96ot922euskYUT2XiBY17as39Ebgn3e5/LAt73dcKV+r3"
    "tKz6vpv8fcfMjmq0RVZQ5ZPICY8sTKu9lH9uISG0C699/emMJS+hchoXzCJ1AfwlWeV+TS"
    "NlUc5Ooo3KSZHpiGKWLtFZy4m6sHhJqu5vMnINI5/OPOA+hebTahyNGKR5lqPE1NGMPI8Z"
    "e0GHXp5G9NfH+7sjBIFyGXKutpr79NESqL/R2WQqXk28MDKp+AEsWyg1+L3fcYRZ2hdN99"
    "3uaffi56Aso1aJOPujsGYbi7WTf2dgLWbDgvIt9Mu/7X4ow4N1PxQTYXAvqRm9iFergm9Q"
    "vo341k4zunalVBN+8RZC2z19V2bsQrHioBJ5M73hTLfzgqYWsOWhRAth3sgMoainYvTbSz"
    "15J827OvgpV+j6HHFFQDWZgFIOnB05cEIEV/3K4sLqG2vyN6bi0lRcWsOYr/Xi0jKeKj/m"
    "K0Wx+7Jff30gVkhOLeQco2CzvZytMrAnpgHbtWqB6UHUU42e3ZdR+nPjbKrnNyjiUUOvwj"
    "IGNdqhUC7MEWK1CNLHmPoxiAgGAzrsi7EASPVFVX1hVXBmvRKj3zk6lpwmckQ3h7GLh8Bd"
    "cgfKUiYrOPqY4VM32lqfQkiiR9BCIilmz1c5N91Ue/sKF8cdhyFCP2tVudeEkKJXFAG7cw"
    "L2FVtuzhD+ajFcMI2EEil8hyCytwpJHqBf7r9f3lyhbw9Xn68fr+/vkvaSvAmXxAXTUwgf"
    "rno36cynY7F6jP2kLaUxTkgpnEvg7C/GVaiZmEgrpoptEzOK9i6etdtLeyuKZjMBeFI1rA"
    "RqTEJFNCrOa8ucV3rs1gBsyNns3+Ati2zsm60cQLd7LnFfxvPm2TE5SovIsWAIL+PGQpqz"
    "zFHR4iUNE34i+R9s1IXchh5r5X+wckss0FMCDEuG84mOYTMv7SFs1ZV8V94x0TXXrmIEVY"
    "xgY2aJLVBU3tdSBeFIooUYn3VLQHzWLUQYbu30UKqGaRdbyD7lzeUaJ7ASVNn1nRVU5l1u"
    "nqnJFNsmz9t3suD0+IRUC2eKMnNx8UycmYd3x7Y2DeYN062EwnvnOSAZswimBdsFI6kUzM"
    "9CbFMoB4rcdlG+vL+/SVB6l9dpTvX77eWVUDWOkmjnHBoCenWVaSMU2GK+E/bS2Y7+VrsL"
    "TKKleUEAq7DZefIqzLDJYYYyKrS65zMpptxyJdYJL/4WMFvRVZRbgfq6mvx1Kb9g8VKm/I"
    "LKL6jcWA1yY5VxtxRm5q7qaimbi6OZi9PimG0H2yNSC0oqans9v1SZPBg5GJfxVq2QEKMX"
    "TxgbBFhzQg0ufUZh9gqH5fmlKsnmHs4S+KbjmV/SR7EoZ9Q2nVG7zuTVtNli/yOJ2ojoAh"
    "1sB+EuTUN43XiXZibn2leUl2Tn2nX+fMhHNc5VRbw7i5WPqMwyXaMYVxWP0iwV4JXYPPcr"
    "L/ZpxERa6Aftnp+X8umfL/Dpn2dyuE+nVRD2i7cQ3benp2WcRqenxV4juJf26FMnN08nZN"
    "orcueHImly09Qd9B9kmXwf9a0F4AIYCQYzs/MkvcnkOElNQgWXuz7l9Of/A8Y+J/0="
)
