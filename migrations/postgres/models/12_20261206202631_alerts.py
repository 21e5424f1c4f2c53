from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "alert_destinations" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(128) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "url" VARCHAR(2048) NOT NULL,
    "secret" VARCHAR(128) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_success_at" TIMESTAMPTZ,
    "last_error" TEXT,
    "last_error_at" TIMESTAMPTZ,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "alert_destinations" IS 'Where a project''s alert messages go: a generic webhook (signed JSON) or a';
        CREATE TABLE IF NOT EXISTS "alert_rules" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(128) NOT NULL,
    "metric" VARCHAR(32) NOT NULL,
    "model" VARCHAR(256),
    "window_seconds" INT NOT NULL,
    "comparison" VARCHAR(8) NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "enabled" BOOL NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "state_changed_at" TIMESTAMPTZ,
    "last_value" DOUBLE PRECISION,
    "last_evaluated_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "alert_rules" IS 'A condition on one metric of a project over a trailing window, and its state.';
        CREATE TABLE IF NOT EXISTS "alert_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "rule_name" VARCHAR(128) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "value" DOUBLE PRECISION,
    "threshold" DOUBLE PRECISION,
    "message" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "project_id" INT NOT NULL REFERENCES "projects" ("id") ON DELETE CASCADE,
    "rule_id" INT REFERENCES "alert_rules" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_alert_event_project_0f91e5" ON "alert_events" ("project_id", "id");
COMMENT ON TABLE "alert_events" IS 'One state change of a rule (\"firing\", \"resolved\"), or a test message (\"test\", no rule):';
        CREATE TABLE IF NOT EXISTS "alert_deliveries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "last_error" TEXT,
    "lease_until" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "delivered_at" TIMESTAMPTZ,
    "destination_id" INT REFERENCES "alert_destinations" ("id") ON DELETE SET NULL,
    "event_id" BIGINT NOT NULL REFERENCES "alert_events" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_alert_deliv_status_fcc8a2" ON "alert_deliveries" ("status", "lease_until");
COMMENT ON TABLE "alert_deliveries" IS 'One message of an alert event to one destination: its attempts, outcome and last error.';
        CREATE TABLE IF NOT EXISTS "alert_rule_destinations" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "destination_id" INT NOT NULL REFERENCES "alert_destinations" ("id") ON DELETE CASCADE,
    "rule_id" INT NOT NULL REFERENCES "alert_rules" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_alert_rule__rule_id_68a247" UNIQUE ("rule_id", "destination_id")
);
COMMENT ON TABLE "alert_rule_destinations" IS 'A destination a rule sends its messages to.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "alert_destinations";
        DROP TABLE IF EXISTS "alert_rule_destinations";
        DROP TABLE IF EXISTS "alert_events";
        DROP TABLE IF EXISTS "alert_rules";
        DROP TABLE IF EXISTS "alert_deliveries";"""


MODELS_STATE = (
    "eJztXftz2ziS/ldQ+sV2leN15NjJJXtXJSfOjnf8yNnO7dautiiYhCSuKUBDkFZUs/nfDw"
    "2+nyL1pDiomkkiEg2QH0Cg++tG4/fOhBnE4ie3ZPJMbD42p52P6PcOxRMi/pFz9xh18HQa"
    "3YMLDn62vOJhOXkdP3PHxrojbg2xxYm4ZBCu2+bUMRkFgR4yMB8/M2wbyOXEPuAI6zrhHD"
    "kMYTS12b+J7hyjmemMxW+bWQQdDtiMEnuAmI0GXouDoxNoz2C6aNCko/VX7VLzN5doDhsR"
    "Z0xs0cA//9mBauGmX1fnX/8SP0xqkB+EQwn4OX3RhiaxjASspgFi8rrmzKfy2jV1vsqC8C"
    "LPms4sd0KjwtO5M2Y0LG1SB66OiHhc7BCo3rFdQJi6luX3RwC69/BREe8RYzIGGWLXgn4C"
    "ae8BomsdTbu7f9Ier540rZPpw0Aihr1/SWcU+l88KpdvP4JHeNN9++79uw9nF+8+iCLyMc"
    "Mr7396TUfAeIISnrunzk95HzvYKyExjkCFHszC+nmM7Xxcg/IpZMUjp5ENcCyDNrgQYRsN"
    "+RBIb0h1NgXwBP/QLEJHzlj8fHtRgub/9R4+/9J7OHx7cQQNMvGVel/wnX+nK28B4BHAuk"
    "0AEA07WZi/iDuOOSH5UCclU4AbvuhJ8I9Nwb/JsS1e0Lin1tz/pkqgf7q+vXp86t1+g+Ym"
    "nP9mSfx6T1dwpyuvzlNXD9PdFFaC/nb99AuCn+gf93dXEl7GnZEtW4zKPf2jA8+EXYdplM"
    "00bMQ+/+BqgFqi1/3JTas1ZyWFFs9d+9DFa5m+Ilxh8agHakxCIeojCkvs8CV3PQhW5yS6"
    "X5lNzBH9lcwlyNfiiTDV8xYCX/f57lezZ+D+DEZPcDX63G08C3WS+KAS7y7emDjeutl7/N"
    "z7ctXJmwvWgOq3qKaWApucAvOxhdH7jPWXmVBStcQwhjusy1JXwrLZW5PuJH0FUzyS+MCL"
    "wGOnsM9R9GPdUqzl+29WWcV3CMXU+YjIK7Hn8CcVajcXmrgocYxeyBxhaqAhIQa8H3omFq"
    "MjqaaTH6Jqa44YJYHCnqfor7+BHHVf6fY71O3l3zV0+6D89nT7TYKb1Ou7H6oo9t0PxZo9"
    "3FOqvVLtbbEeUcBDM/Cc15i2soJLKaT+MzampzehjxYv8bHFN0mbJTvh0hf++usDsbB8p0"
    "KtKsnT7dmHVqRYJYYsnpqaWNBXxKk3NYWq2laMfM1nRYwevVraCpLUEleE6ArqaDVAmoNH"
    "6wDpCY9aixM1NDCiV4WJGi1jGhIoBcbXaiB9jdXSRpQmRFSiazazLHd1XQDqepBVtRUvSV"
    "6tBS349tqNFbaI7Yi2uWNSCcaqOhTU9yWqrt24rUNdkIi1WmfwsLJdi6wDqgfX2kfCoBCp"
    "TXK6UnfIIXQDnaKYzQ11l3rRGljXmUudT8gZEzTFnM+YuGpyxB1mEwMxas0R5ghThO0Ro1"
    "3TQGMhXR6osVKtirRtFmlLJti06rC2ocB6aNvdgpsgbbvn7yqQtqJUIWkr7yVJ2+D70OAL"
    "qINzRrCFNHn3/LwS4ucliJ8rmvyPSpMrHnezmqLFRibV1sNU3kBdLaQrN6kv+gx4jsYYce"
    "PFOmOcha+iNvqu9QOOBBBgMjIKbvkT9CTUvKF4MumkBzVvzGZUaHk6QdhBctKEsuC+p+Dd"
    "9/XAPCVyI20olbJZKmXz4wDCf25Fy9lIMMDUJkPzRy2FMpRonea+/jBqMQ3V1tjjMq2D+K"
    "KKbXRRbBpdZCwjpacXQ98uPT2hU2LugCtumX5Py66h5xsW3bInHR1gsiBw6ZW9LNXPSUnV"
    "y03uZbXzZCv7JFRQfxuC+gP+I8eij1EjxSZ9nIpZbNLfU4IEWMJa5tJ6PkGfwW8jfiJsEz"
    "QBCMX/xEDPc+nL8WxygSmmXNQMIhkbfl2V5u7VjY1y/1WBwchs2U0UlEqBFwcl1gtRMnE3"
    "tnMmVVBxAtvkBOLdmUG32KRKibXSBVLFdhWlSlwgGeu1cNtiMdLF+xarodwwFWsLIA9NOz"
    "6h1NRxs9IttGPbpOgml4+avZ0RVp3d6M72ukqGudRQBlJS27NrThutFShjURmLylisbSx6"
    "Qag5pmIYnVpsKEaRsBU8vxTd3NwKO00Ycb6BhgamMQA3LEawGL1htkEgsu/79+sv6PD1/R"
    "FyqSWzNAkDT7dM0Rji8IfpcMRmOWbjphpZ7PtNmIMxz0HaUkyZGiUlY6pySSnZK4vadLDj"
    "8nShWpYpoFXDNHVd0zgBmc24ozp/HrpUdi+SLcEf7/6ns32NQyr0Z54KEVcO5KsrU7U5Vp"
    "QyVbcAskmnbo468ER+FNFagUArhnGZZXL196eEURLgeHjb+/tRwjC5ub/7S1A8hvvnm/vL"
    "FNzMdWriHUkowJcAfEIcDPN5FvK/Pt7f5UMel0lb46buoP8gy+R7mCChBHsAoxz7NMyp1R"
    "MqyGAf6DlVp+9QQE3elSZvh70QyjWTZkG+NEeFZnNCrEWZP/6r2z07e989Pbv4cP7u/fvz"
    "D6eh9Zy9VWZGX17/BSzpREdkKQsfRpY3n1eAn+XO6gr/yvhbAh+qz7VJTvz5V4vhAviTYi"
    "n4hyC3fx1QguWX+++XN1fo28PV5+vHa3+WDxlVeVPam79ZpsdtPFz1btLxeGKi1yimrN5A"
    "T4ipcb7sOI+ogMoGZyjRvoW0SsB0cbh0Jlia2DbLSTNarI+HAm2AdtvauArsXaor9s1Hpp"
    "w5ypnTKmdOTOlXCbVUqqgGbggNR1WRV9AfcQscg2HCuGoxpKI0YkOZftlP22xScNpBnXDD"
    "98chzpAzxo68NUJD03KILf17FMlOQhZjL17upkxI6Zrb6NPD8OwYUfAYRZrFERKjbCykRD"
    "3QBNfFX6IF4LZ8n+QLIdO42/FAtA3OyeLAVRK4ZEVj5eGqjtdDS/v7ykyxlgWjbsUCK/YD"
    "+j1V1Rzzi7eCv1db/3a9rrTCQvAWm3pRC3GZdcYuNLdbF4YqKJNryyZXuJqvaHC1LY3gcc"
    "rcin+r6lya5hiyGzVB/BTIeRZIlB25xACJZ2KuZn8IEXk45Am6rbC7DEwE8NxzP1EMHokJ"
    "dSSGiGdY8PwtbRtoY9EOtyCMafHuNk4IVRvWtrthbQdxaU2brLa2h0qO75qGQFJSGQKNNg"
    "SiWaxmLycEVSc3upPVnqmN7JkaM9fWnl39hdSMQEoJtgbZLQdmSBgLM8svwj8SVPivgP+S"
    "sUlZWdULK/SCS6e2qZOaXomMqOqD5fpAsX8q4ELxVBV5qjC0IIeoiocdFDNV8RCHakRVeH"
    "ixWPPt+Qka+PDIXa4GocyeYMvkxJBubHke8huus6m4IHrdNgnwSeIHZejfzCxIvrSJRlbc"
    "RRvy5WoXa3N2sepitsoC/SgGh1W4WIRCbVonzrrvL8IlAn6UrQ6Pt72bm+zSq7PJJNcnVB"
    "xCHBNRQcQqiFiRRsElFSKgQgSUkaCMhM7HgkABFX6xrvCL3Zhe8qifnuOQyTQ3f1Hi/nGZ"
    "CeYdQIS9otUPsgmOJNTHRNhJNtEhetdAz2QohhAyHWS7lH9EWFRhWq64FEs0FApPsCPk80"
    "+xWWsDfdqnD2zGkWW+CvOO2bKYM7aZ41jkgKOZGIdshg45IUhg9SdO7FdTJ/xPHjxByZPp"
    "/KiyNRee4pe25cTaLRaXTE4iuLW0daeCEfb8kMZdr+WbP6YxNuyrYhwTaSHKKui7Gar/Xl"
    "h0GUV5h4pHSY799BmEixSPeun2e4gL9ZQYb0yKnm2xoEM0IZxrpzP2YhI0ZuIdhE5gY7Gc"
    "T5BMEPLJOywZdjc9/tJ70z2/iM5RztM8NtCCOj2vWWu97LXaZ48lpdTpY4tXI24PNYlaHZ"
    "iTUmrZV8v+H3nZT5A2P6amqG6Jbk5Kqm5udDfvil5umDds3UGehbsNCjEt3myg+PqC7Rxr"
    "oJSD/U17Bm5VRjk2qJq5n69h08AaPCDiEdDd95ubXZH1t0S8ov7ALMuddnJs5sT94zKbeS"
    "JLarYsWmN7X5SpwyKvRKDsxawfI9nGEdKJZX1CA/lLBjkdHEiW3AutRjNTDCkXMoLIEvlB"
    "UxtoY9H2PtkQ/CMKwfcy36b3+6n0H41M/xH2X8UFOSyvluMcBWeZDSy72LvSkmG9s/TcjQ"
    "N983tYl9kbpLYFrTqud5YVXWG/y5zoCv3d5elW2HeW2wGnNr+t7xyAsX8oS9Uw/LTc9rSa"
    "zu8/Oxvqgm0H4wd7jrQp46ZjvuZsLCkb/7ni6kNY7kMIwaSQcWj5voiLq75Y8tCGWIBI9S"
    "6ISynkl0NeHtBQ1+gKZRTqagf6rtkxtbmk5TvQPZ/JV5Zi9bN3j8u8Kp47RRtCaF81n8rj"
    "/96YDvmIxmwmini7CYYmJcirCkHgIMI2bDWwYNeCwJZ5yc4ZtjmxPRdJTp7EdVUMGx7uKf"
    "KqQxjBTlnTQe5UlIE07xCvCGITk7qiAPhmOGRoHyQ9TINjhKnhJ2snWB9DEsc+BR/mAUcy"
    "o5QUk0/g2jYcHQ25SCCzPIRDDsJUlAN49E9QcB5/fiY+rdiD9CmzvQrGmMttHMQ4QQ8CjI"
    "F8sQH6b3Rx+hF8RvY8eHhRsfQe+Q4n9Gc08HaJSC+TeBJRf5/KWuFlDDyXMH6K1Xl2cRrW"
    "GqSpFC8oZWTVg1imp0GyhT4VTQykWzdADR1mWjsSr0EwhI4aRhx5r0NFwaBZfiCbFRcdiQ"
    "YeQvr9oL0TdMc8GUbRNy/wRHTyMZqNiU38N/A7e2aLvuf+NfmqqwajbtBfsycOs42FpHr9"
    "W9N5E8q0acXfgr7VkFh6iHQpjgqI3S1dveIzzxoiAoJ5yHPY13T15wgv4cOvlrU3kIsF1E"
    "RVRM6fBCcbsoTqQBAVEdDYGVBFBOznsFaZrVVUQPsJKuUb3eG8onyjipZtwnqqaFlFyxYb"
    "tj2L2M4XAslW7Hknx7ZNFjguM28xFIVXg7ImqWHiTgjn4vmAn4RTKKEeL9gcOUyegilkHJ"
    "PK81M/SroyyIJzjJjr6GxCJDMHByQg6djKt4Y30E6f9pDoXh0S2ugWNiccMt5AtPzAIpgT"
    "zaWOaQ3QIUa6jfmYGEHxA46mwgoXj4d8zObAgjr4hVDExM8+DTlXWVWMaa2e2kZ8fI7LPT"
    "M8fBxlVDfUqI56q6oxEklsMZbHH7edrRgkb6vYI2+LzZG3GWsknkKron4QF2mNYrY29kIe"
    "TCPnwyykZcFocSmVFrZ+JFp8Ss8Av+AsoaToGjaa71Ff7Ns+c5U1ongqEy9o3FNr7o/APe"
    "l2/2Mp7XVfK1yq39Oy6vtu8vcdMzvq0RZZQZVPIic8sjCt9kL+uYWE0C689utPZyx5CZXT"
    "uGAWWRfAX5JV7tc0UhXl7CTaqJwUmY4oZukSnbWYqAuLV6Tq/iYj1zDy6cwD7lNoPq3G0Y"
    "hBmmc5SkwdzcjzmLEXdOjlaUR/fby/O0IQKJch59ZWc58+WgL1NzqbTMWriRdGJhU/gGUL"
    "pQa/9zuOMEv7oum+2z3tXvwcVGXUahFnfxTWbGOxdvLvDKzFbFhQvoV++bfdD1V4sO6HYi"
    "IM7iU1oxfxanXwDcq3Ed+104yuXSvVhF+8hdB2T99VGbtQrDioRN5MbzjT7bygqRK2PJRo"
    "IcwbmSEU9VSMfnupJ++keVcHP+USXZ8jrgioJhNQyoGzIwdOiOCyX1lcWH1jTf7GVFyaik"
    "trGPO1WlxaxlPlx3ylKHZf9uuvD8QKyalSzjEKNtvL2SoDe2IasF1rLTA9iHrq0bP7Mkp/"
    "bpxN9fwGRTxq6FVYxKBGOxSqhTlCrBZB+hhTPwYRwWBAh30xFgCpvqiqL6wKzqxXYvQ7R8"
    "eS00SO6OYwdvEQuEvuQFnKZAVHHzN86kZb61MISfQIWkgkxez5Muemm2pvX+HiuOMwROhn"
    "rS73mhBS9IoiYHdOwL5iy80Zwl8thgumkVAihe8QRPZWIckD9Mv998ubK/Tt4erz9eP1/V"
    "3SXpI34ZK4YHoK4cNV7yad+XQsVo+xn7SlMsYJKYVzBZz9xbgONRMTacVUsW1iRtHexbN2"
    "e2lvRdFsJgBPqoa1QI1JqIhGxXltmfNKj901ABtyNvs3eKsiG/tmawfQ7Z5L3JfxvHl2TI"
    "7SInIsGMKLuLGQ5qxyVLR4ScOEn0j+Bxt1Ibehx1r5H6zcEgv0lADDkuF8omPYzEt7CFt1"
    "Jd+Vd0z0mmtXMYIqRrAxs8QWKCrva6mDcCTRQozPuhUgPusWIgy3dnooVcO0iy1kn/Lmco"
    "0TWAnq7PrOCirzLjfP1GSKbZPn7TspOT0+IdXCmaLKXFw8E2fm4d2xrU2DecN0K6Hw3nkO"
    "SMYsgmnBdsFIKgXzsxDbFMqBIrddlC/v728SlN7ldZpT/X57eSVUjaMk2jmHhoBeXWfaCA"
    "W2mO+EvXS2o7+t3QUm0dK8IIBl2Ow8eRVm2OQwQxkVWt/zmRRTbrkK64QXfwuYLekqyq1A"
    "fV1N/rqUX7B4KVN+QeUXVG6sBrmxqrhbCjNz13W1VM3F0czFqTxm28H2iKwFJRW1vZpfqk"
    "oejByMq3irlkiI0YsnjA0CrDmhBpc+ozB7hcPy/FK1ZHMPZwl80/HML+mjWJQzapvOqF1n"
    "8mrabLH/kURtRLREB9tBuEvTEF413qWZybn2FeUF2bl2nT8f8lGNc1UR70658hGVWaRrFO"
    "Oq4lGapQK8EpvnfuXFPo2YSAv9oN3z80o+/fMSn/55Jof7dFoHYb94C9F9e3paxWl0elrs"
    "NYJ7aY8+dXLzdEKmvSJ3fiiSJjdN3UH/QZbJ91HfKgEXwEgwmJmdJ+lNJsdJahIquNz1Ka"
    "c//x9cAoz4"
)
