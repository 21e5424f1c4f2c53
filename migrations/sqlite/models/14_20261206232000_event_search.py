"""Text search (app/services/search.py): the index of events' words, built here for the
events already stored and kept by the writer's transaction from then on. Hand-written: the
models cannot declare it (an FTS5 table, its key map and triggers)."""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "event_search_ids" (
    "key" INTEGER PRIMARY KEY NOT NULL,
    "event_id" CHAR(36) NOT NULL UNIQUE
) /* The text search index's key of each event: (millisecond of created_at << 22) + sequence */;
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
        SELECT 'delete', "key", substr(old.input, 1, 50000), substr(old.output, 1, 50000) FROM "event_search_ids" WHERE event_id = old.id;
    DELETE FROM "event_search_ids" WHERE event_id = old.id;
END;
        CREATE TRIGGER IF NOT EXISTS "events_search_update"
    AFTER UPDATE OF input, output, created_at ON "events" BEGIN
    INSERT INTO "event_search" ("event_search", rowid, input, output)
        SELECT 'delete', "key", substr(old.input, 1, 50000), substr(old.output, 1, 50000) FROM "event_search_ids" WHERE event_id = old.id;
    DELETE FROM "event_search_ids" WHERE event_id = old.id;
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
    "Mv4rtIiZIoDqpmkohEA+QDEOh+utH4vTNhBrH4yS2ZPBObj81p5yP6vUPxhIh/ZNw9Rh08"
    "nS7uwQUHP1te8bCcvI6fuWNj3RG3htjiRFwyCNdtc+qYjIJADxmYj58Ztg3kcmIfcIR1nX"
    "COHIYwmtrs30R3jtHMdMbit80sgg4HbEaJPUDMRgOvxcHRCbRnMF00aNJR/VW71PzNJZrD"
    "RsQZE1s08M9/dqBauOnX1fnXv8QPkxrkB+FQAn5OX7ShSSwjBqtpgJi8rjnzqbx2TZ2vsi"
    "C8yLOmM8ud0EXh6dwZMxqWNqkDV0dEPC52CFTv2C4gTF3L8vsjAN17+EUR7xEjMgYZYteC"
    "fgJp7wEW1zqadnf/pD1ePWlaJ9WHgUQEe/+Szij0v3hULt9+BI/wpvv23ft3H84u3n0QRe"
    "Rjhlfe//SaXgDjCUp47p46P+V97GCvhMR4ASr0YBrWz2NsZ+MalE8gKx45iWyAYxG0wYUF"
    "toshHwLpDanOpgCe4B+aRejIGYufby8K0Py/3sPnX3oPh28vjqBBJr5S7wu+8+905S0AfA"
    "GwbhMARMNOGuYv4o5jTkg21HHJBOCGL3oS/GNT8G9ybIsXNO6pNfe/qQLon65vrx6ferff"
    "oLkJ579ZEr/e0xXc6cqr88TVw2Q3hZWgv10//YLgJ/rH/d2VhJdxZ2TLFhflnv7RgWfCrs"
    "M0ymYaNiKff3A1QC3W6/7kplWas+JCy+eufejiWqavBa6weFQDNSKhEPURhSV2+JK5HgSr"
    "cxzdr8wm5oj+SuYS5GvxRJjqWQuBr/t896vZM3B/BqMnuLr43G08C3WS6KAS7y7emDjeut"
    "l7/Nz7ctXJmgtqQPXboqaWAhufArOxhdH7jPWXmVBStdgwhjusyxJXwrLpW5PuJHkFUzyS"
    "+MCLwGMnsM9Q9CPdkq/l+29WWsV3CMXU+YjIK7Hn8CcVajcXmrgocYxeyBxhaqAhIQa8H3"
    "omFqMjqaaTH6Jqa44YJYHCnqXo199AhrqvdPsd6vby7wq6fVB+e7r9JsGN6/XdD2UU++6H"
    "fM0e7inVXqn2tliPKOChGXjOK0xbacGVFFL/GRvT05vQR/OX+MjiG6fN4p1w6Qt//fWBWF"
    "i+U65WFefp9uxDy1OsYkMWT01NLOhr4tSbmkJVbStGvuazJkaPXi1tBUlqiWtCdAV1tBog"
    "zcGjOkB6wqPW4kQNDYzodWGiRsuYhhhKgfG1HkhfI7W0EaUJEZXoms0sy11fF4C6HmRVbc"
    "VLkle1oAXfXruxwhaxHdE2d0wqwVhXh4L6viyqazdudagLErFW6wweVrZrkTqgenCtfSQM"
    "cpHaJKcrdYcMQjfQKfLZ3FB3qRatgXWdudT5hJwxQVPM+YyJqyZH3GE2MRCj1hxhjjBF2B"
    "4x2jUNNBbSxYEaa9WqSNtmkbZkgk2rCmsbCtRD2+4W3Bhp2z1/V4K0FaVySVt5L07aBt+H"
    "Bl9AFZxTgi2kybvn56UQPy9A/FzR5H9UmlzxuJvVFC02MqlWD1N5A3W1kK7cpL7oM+AZGu"
    "OCG8/XGaMsfBm10XetH3AkgACTkVFwy5+gJ6HmDcWTSSc9qHljNqNCy9MJwg6SkyaUBfc9"
    "Be++rwdmKZEbaUOplM1SKZsfBxD+cytazkaCAaY2GZo/KimUoUTrNPf6w6jFNFRZY4/KtA"
    "7iizK20UW+aXSRsoyUnp4Pfbv09JhOibkDrrhV+j0pW0PPNyy6ZU86OsBkSeDSK3tZqZ/j"
    "kqqXm9zLaufJVvZJqKD+NgT1B/xHhkUfoUbyTfooFbPcpL+nBAmwhLXMpfV8gj6D30b8RN"
    "gmaAIQiv+JgZ7n0pfj2eQCU0y5qBlEUjZ8XZVm7tWNjHL/VYHBSG3ZjRWUSoEXByXWC1Ey"
    "djeycyZRUHEC2+QEot2ZQjffpEqItdIFUsZ2FaUKXCAp6zV322I+0vn7Fsuh3DAVawsgD0"
    "07OqFU1HHT0i20Y9uk6MaXj4q9nRJWnd3ozva6Soa5VFAGElLbs2tOG60VKGNRGYvKWKxs"
    "LHpBqBmmYhidmm8oLiJhS3h+Kbq5uRV2mjDifAMNDUxjAG5YjGAxesNsg0Bk3/fv11/Q4e"
    "v7I+RSS2ZpEgaebpmiMcThD9PhiM0yzMZNNbLc9xszByOeg6SlmDA1CkpGVOWCUrJXlrXp"
    "YMflSwoFuzI0rovPN1m4khkL0FawY13XNE5AZjO+q86fhy6VYwHJluCPd//T2b56IrX/M0"
    "/fiGoS8tWVXdsck0vZtVsA2aRTN0N3eCI/8jiwQKAVw7jIjLn6+1PMgglwPLzt/f0oZsXc"
    "3N/9JSgewf3zzf1lAm7mOhXxXkgowFcAfEIcDPN5GvK/Pt7fZUMelUma7qbuoP8gy+R7mE"
    "2hAHsAoxj7JMyJ1RMqSGEfKEVlp+9QQE3epSZvh70QyjWTpkG+NEe5NnZMrEVpQv6r2z07"
    "e989Pbv4cP7u/fvzD6ehqZ2+VWRzX17/BczuWEek+Q0fRpY1n5eAn2XO6gr/0vhbAh+qz7"
    "VJRrD6V4vhHPjjYgn4hyC3fx1QgOWX+++XN1fo28PV5+vHa3+WD+lXeVMap79ZpkeEPFz1"
    "bpLBe2Ki1yimrNpAj4mpcb7qOF/wBqUNzlCifQtpmejq/NjqVGQ1sW2WkZM0Xx8PBdoA7b"
    "a1cRUFvFJX7JtDLU1ixrv6cYItK3fZSEu3aO04676/CFcL+FG0Pjze9m5ulGNNOdZ2PStt"
    "2LEWsalUcjOVtquBm3PDUZXnofVH3BInbZi8r1w8ryiN2FCmwvZTaJsUHKhQJ9zwfaOIM+"
    "SMsSNvjdDQtBxiS18rRbKTkMXYi5dHKxXeW3MbfXoYnuMjCh6jheJ2hMQoGwspUQ80wXXx"
    "l2gBqEPfP/xCyDTqAj4QbYOjOD+ImATucdFYceiw4/XQyu7UIku3ZYHBWzFw892sfk+VtX"
    "b94q1wj6htmLteV1phgHmLTbWgkKhMnaEhze3WpZEgyuTasskVruZrGlxtS+l4nDC3ot+q"
    "OiOoOYbsRk0QPx11lgWyyFRdYIBEs2KXsz+EiDyo8wTdltjpByYCBEZwP2kPHokJdSSGiG"
    "dY8OzthRtoY9luwyBKbPlOQ04IVZsHt7t5cAdhf02brLa2n02O74qGQFxSGQKNNgQWs1jF"
    "Xo4Jqk5udCer/Wsb2b82Zq6tPbv6C6kY4JUQbA2yW457kTDmZvlfhv9CUOG/Bv4rhn6lZV"
    "UvrNELLp3apk4qeiVSoqoPVusDxf6pgAvFU5XkqcLQggyiKhp2kM9URUMcyhFV4UHSYs23"
    "5ydo4MMjdxwbhDJ7gi2TE0O6seXZ1G+4zqbiguh12yTAJ4kflKF/MzMnEdYmGllzR3PIl6"
    "tNws3ZJLxKzON6oY5Nm8RqjHXU2WSS6RPKj9COiKgYbRWjrUij4JIKEVAhAspIUEZC52NO"
    "oIAKv6gr/GI3ppc8dqnnOGQyzcwlFbt/XGSCeYdBYa9o+UOFguMh9TERdpJNdIjeNdAzGY"
    "ohhEwH2S7lHxEWVZiWKy5Fkj6FwhPsCPnsE4VqbaBP+/SBzTiyzFdh3jFbFnPGNnMcixxw"
    "NBPjkM3QIScECaz+xIn9auqE/8mDJyh5Mp0flbbmwhMVk7acWLvF4pKZH2pl604FI+z5gZ"
    "m7Xss3f2RmZNiXxTgi0kKUVdB3M1T/vbDoUoryDhWPgvMOkudBLlM8qh190ENcqKfEeGNS"
    "9GyLBR2iCeGMQZ2xF5OgMRPvIHQCG4vlfIJk/pVP3sHVsLvp8Zfem+75xeJM6yzNYwMtqJ"
    "MMm7XWy16rfA5cXEqdBLd8NeL2UJOoVYE5LqWWfbXs/5GX/Rhp82NqiupW6Oa4pOrmRnfz"
    "rujlhnnD6g7yzN1tkItp/mYDxdfnbOeogVIO9jftGbhlGeXIoGrmfr6GTQM1eEDEI6C77z"
    "c3uyLrb4l4Rf2BWZY77WTYzLH7x0U280SW1GxZtML2vkWmDou8EoGyF7N+jGQbR0gnlvUJ"
    "DeQvGeR0cCBZci+0Gs1MMaRcyAgiS2QHTW2gjWXb+2RD8I9FCL6XWDi530+l/2hk+o+w/0"
    "ouyGF5tRxnKDirbGDZxd6VlgzrnWU/bxzom9/DusreILUtaN1xvbOk8wr7XaacV+jvLg26"
    "wr6z2g44tfmtvmMWxv6ZN2XD8JNy29NqOr//7GyoC7YdjB/mwp4ybjrma8bGkqLxnymuPo"
    "TVPoQQTAoZh1bvi6i46osVz8SIBIiU74KolEJ+NeTl+RdVja5QRqGudqDvmh1Tm0tavgPd"
    "85l8ZQlWP333uMir4rlTtCGE9pXzqTz+743pkI9ozGaiiLebYGhSgryqEAQOImzDVgMLdi"
    "0IbJmX7JxhmxPbc5Fk5Emsq2LY8HBPkVcdwgh2ypoOcqeiDKR5h3hFEJuY1BUFwDfDIUP7"
    "IO5hGhwjTA0/WTvB+hiSOPYp+DAPOJIZpaSYfALXtuEYb8hFApnlIRxyEKaiHMCjf4KC8+"
    "jzM/FpRR6kT5ntVTDGXG7jIMYJehBgDOSLDdB/o4vTj+AzsufBw4uKpffIdzihP6OBt0tE"
    "epnEk4j6+1TWCi9j4LmE8VOkzrOL07DWIE2leEEpI6seRDI9DeIt9KloYiDdugFq6DDV2p"
    "F4DYIhdNQwosh7HSoKBs3yA9msuOhINPAQ0u8H7Z2gO+bJMIq+eYEnopOP0WxMbOK/gd/Z"
    "M1v0PfevyVddNxh1g/6aPXGYbSwk1evfis6bUKZNK/4W9K2GxNJDpEt+VEDkbuHqFZ15ao"
    "gICOYhz2Ff0dWfIbyCD79c1t5ALhJQs6hi4fyJcbIhS6gOBFERAY2dAVVEwH4Oa5XZWkUF"
    "tJ+gUr7RHc4ryjeqaNkmrKeKllW0bL5h27OI7XwhkGzFnncybNt4geMi8xZDUXg1KGuSCi"
    "buhHAung/4STiFEurxgs2Rw+QpmELGMak8P/WjpCuDLDjHiLmOziZEMnNwQAKSjq1sa3gD"
    "7fRpD4nu1SGhjW5hc8Ih4w1Eyw8sgjnRXOqY1gAdYqTbmI+JERQ/4GgqrHDxeMjHbA4sqI"
    "NfCEVM/OzTkHOVVUWY1vKpbcTH57jcM8PDx1FGdUON6kVvlTVGFhJbjOXxx21nKwbJ2zL2"
    "yNt8c+RtyhqJptAqqR9ERVqjmNXGXsiDaeR8mIa0KBgtKqXSwlaPRItO6Sngl5wlFBetYa"
    "P5HvXFvu0zV1kj8qcy8YLGPbXm/gjck273P5bCXve1wpX6PSmrvu8mf98Rs6MabZEWVPkk"
    "MsIjc9NqL+WfW0gI7cJrX386Y8lLqJzGObNIXQB/iVe5X9NIWZTTk2ijclKkOiKfpYt11n"
    "KiLixekqr7m4xcw8inMw+4T6H5tBpHIwZpnuUoMXU0I89jxl7QoZenEf318f7uCEGgXIqc"
    "q63mPn20BOpvdDaZilcTL4xMKn4AyxZKDX7vdxxhlvZF0323e9q9+Dkoy6hVIs7+KKzZxm"
    "Lt5N8pWPPZsKB8C/3yb7sfyvBg3Q/5RBjci2tGL+LVquAblG8jvrXTjK5dKdWEX7yF0HZP"
    "35UZu1AsP6hE3kxuONPtrKCpArY8lGghzBuZIRT1lI9+e6kn76R5Vwc/5QpdnyGuCKgmE1"
    "DKgbMjB06I4KpfWVRYfWNN/sZUXJqKS2sY87VeXFrKU+XHfCUodl/2668PxArJqULOcRFs"
    "tpezVQr22DRgu1YtMD2IeqrRs/sySn9unE31/AZ5PGroVVjGoC52KJQLc4RYLYL0MaZ+DC"
    "KCwYAO+2IsAFJ9UVVfWBWcWa/E6HeOjiWniRzRzWHs4iFwl9yBspTJCo4+pvjUjbbWpxCS"
    "6BG0kEiK2fNVzk031d6+3MVxx2GI0M9aVe41JqToFUXA7pyAfcWWmzGEv1oM50wjoUQC3y"
    "GI7K1CkgXol/vvlzdX6NvD1efrx+v7u7i9JG/CJXHB9BTCh6veTTLz6VisHmM/aUtpjGNS"
    "CucSOPuLcRVqJiLSiqli28SMor3zZ+320t6KotlMAJ5UDSuBGpFQEY2K89oy55UcuzUAG3"
    "I2+zd4yyIb+WYrB9Dtnkvcl/G8eXZMjtI8ciwYwsu4sZDmLHNUtHhJw4SfSP4HG3Uht6HH"
    "WvkfrNwSC/SUAMOS4XyiY9jMS3sIW3Ul35V1THTNtasYQRUj2JhZYgsUlfe1VEF4IdFCjM"
    "+6JSA+6+YiDLd2eihVw7SLLWSf8uZyjRNYCars+k4LKvMuM8/UZIptk2ftOyk4PT4m1cKZ"
    "osxcnD8Tp+bh3bGtTYN5w3QrofDeWQ5IxiyCac52wYVUAuZnIbYplANFbrsoX97f38Qovc"
    "vrJKf6/fbySqgaR3G0Mw4NAb26yrQRCmwx3wl76WxHf6vdBSbR0rwggFXY7Cx5FWbY5DBD"
    "GRVa3fMZF1NuuRLrhBd/C5it6CrKrEB9XU3+upRfMH8pU35B5RdUbqwGubHKuFtyM3NXdb"
    "WUzcXRzMWpOGbbwfaI1IKSitpezy9VJg9GBsZlvFUrJMToRRPGBgHWnFCDS59RmL3CYVl+"
    "qUqymYezBL7paOaX5FEsyhm1TWfUrjN5NW222P9IojYiWqCD7SDcpWkIrxvv0szkXPuK8p"
    "LsXLvOnw/5qMaZqoh3p1j5WJRZpmvk46riUZqlArwSm2d+5fk+jYhIC/2g3fPzUj798wKf"
    "/nkqh/t0WgVhv3gL0X17elrGaXR6mu81gntJjz51MvN0Qqa9PHd+KJIkN03dQf9Blsn3Ud"
    "8qABfAiDGYqZ0nyU0mx3FqEiq43PUppz//H7YiDKk="
)
