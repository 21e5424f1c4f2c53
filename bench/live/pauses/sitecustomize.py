"""`bench.live --pauses`: what stalls the server's event loop, written as JSON lines.

Loaded by the server (`phospho serve`, this folder on PYTHONPATH) when PHOSPHO_BENCH_PAUSES
names the file to write. Two sources, both timed on the system's monotonic clock so the
benchmark can sort them into its runs:
- every garbage collection of 2 ms or more (`gc.callbacks`): generation, duration, objects freed;
- every stall of the event loop of 20 ms or more (a 5 ms timer that came late), with the CPU
  the loop's thread and the whole process used meanwhile: a stall the loop's thread spent on
  the CPU was work (or a collection) on the loop; one the process barely ran in was the
  process off the CPU (another process on its core) or blocked in a system call.
"""

import gc
import json
import os
import sys
import time

PATH = os.environ.get("PHOSPHO_BENCH_PAUSES")
TICK_S = 0.005
STALL_MS = 20.0
GC_MS = 2.0


def _install(path: str) -> None:
    out = open(path, "a", buffering=1)  # open for the life of the process
    started: list[float] = [0.0]

    def collected(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= GC_MS:
            out.write(
                json.dumps(
                    {
                        "t": time.monotonic(),
                        "kind": "gc",
                        "ms": ms,
                        "gen": info["generation"],
                        "freed": info["collected"],
                    }
                )
                + "\n"
            )

    gc.callbacks.append(collected)

    import asyncio
    import asyncio.runners

    run = asyncio.runners.Runner.run

    def watched_run(self, coro, **kwargs):  # uvicorn runs its server through asyncio.Runner
        async def watched():
            loop = asyncio.get_running_loop()
            last = [time.monotonic(), time.thread_time(), time.process_time()]

            def tick() -> None:
                now, thread, process = time.monotonic(), time.thread_time(), time.process_time()
                late = (now - last[0] - TICK_S) * 1000
                if late >= STALL_MS:
                    out.write(
                        json.dumps(
                            {
                                "t": now,
                                "kind": "stall",
                                "ms": late,
                                "loop_cpu_ms": (thread - last[1]) * 1000,
                                "process_cpu_ms": (process - last[2]) * 1000,
                            }
                        )
                        + "\n"
                    )
                last[:] = [now, thread, process]
                loop.call_later(TICK_S, tick)

            loop.call_soon(tick)
            return await coro

        return run(self, watched(), **kwargs)

    asyncio.runners.Runner.run = watched_run


if PATH and "serve" in sys.argv:
    _install(PATH)
