"""Training runs without the GIL, and Ctrl-C stops it within a second."""
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

import vaead


def test_other_threads_run_while_training(normal_rows):
    rows = np.tile(normal_rows, (20, 1))  # about a second of training
    detector = vaead.VAEDetector(epochs=6, members=1, device="cpu", threads=1)
    thread = threading.Thread(target=detector.fit, args=(rows,))
    gaps, last = [], time.perf_counter()
    thread.start()
    while thread.is_alive():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    thread.join()
    assert hasattr(detector, "model_")
    # with the GIL held by fit, this thread would wait for the whole training
    assert len(gaps) > 50 and max(gaps) < 0.2, (len(gaps), max(gaps))


CHILD = textwrap.dedent(
    """
    import signal, sys, time
    import numpy as np
    import vaead
    # Python's Ctrl-C handler, as a terminal's Python has it: a test run in the background (a job
    # started with `&` by a shell without job control) inherits SIGINT ignored, and Python then
    # installs no handler of its own; vaead gives back whatever handler it found.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rows = np.random.default_rng(0).normal(size=(50000, 20))
    print("training", flush=True)
    try:
        vaead.VAEDetector(epochs=1000, members=2, device="cpu", threads=2).fit(rows)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.time(), flush=True)
    # the next fit trains (the stop request was cleared) and Python's Ctrl-C handler is back
    vaead.VAEDetector(epochs=1, members=1).fit(rows[:2000])
    print("trained again", flush=True)
    try:
        time.sleep(30)
    except KeyboardInterrupt:
        print("python's handler", flush=True)
    """
)


def test_ctrl_c_stops_training_within_a_second():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, child.kill)  # a child that ignores Ctrl-C fails, not hangs
    watchdog.start()
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(1.5)  # well into the first epochs
        sent = time.time()
        child.send_signal(signal.SIGINT)
        word, stopped = child.stdout.readline().split()
        assert word == "interrupted"
        assert float(stopped) - sent < 1.0
        assert child.stdout.readline().strip() == "trained again"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        # What the child said and how it ended, should it not be Python's handler that answered.
        assert line == "python's handler", (line, child.wait(timeout=10), child.stderr.read())
        assert child.wait(timeout=10) == 0
    finally:
        watchdog.cancel()
        child.kill()
