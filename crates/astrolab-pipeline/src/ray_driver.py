"""The driver of one astrolab run on a Ray cluster (astrolab_pipeline::ray).

The Ray executor writes this file beside the run's staging directory on
shared storage and submits it as a Ray job (Job Submission API,
submission_id = the run). It

1. plans the run with `astrolab shard plan` (on the head: it reads the
   store to know the units of work),
2. starts one Ray task per shard with the CPUs it needs; each task checks
   that its `astrolab` is the driver's build, runs `astrolab shard run`
   (which writes the shard's result under a temporary name and renames
   it) and returns only the small receipt (path, bytes, SHA-256); a task
   that fails, or whose worker dies, is retried,
3. runs `astrolab shard reduce`, which checks every result against its
   receipt and writes the run's outputs and provenance manifest.

Everything the executor reads back is one line on stdout starting with
ASTROLAB_EVENT (a typed event as JSON) or ASTROLAB_ERROR (why the run
failed); the rest of the job's log is kept as detail.
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys

import ray


class ShardFailed(Exception):
    """A shard's command failed: retried (the failure may be the machine's)."""


class VersionMismatch(Exception):
    """A worker's astrolab is not the driver's build: never retried."""


def emit(event):
    print("ASTROLAB_EVENT " + json.dumps(event), flush=True)


def fail(message):
    print("ASTROLAB_ERROR " + message.replace("\n", " | "), flush=True)
    sys.exit(1)


def tail(text, n=2000):
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def command_error(text):
    """The `error: ...` line an astrolab command ends with, else the tail."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("error: "):
            return line[len("error: "):]
    return tail(text)


def die_with_parent():
    """In the child: killed when the task's worker dies (a stopped job, a
    lost node), so no orphaned shard keeps writing (Linux prctl)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@ray.remote
def run_shard(astrolab, build, pipeline, plan, index, parts, threads):
    host = socket.gethostname()
    got = subprocess.run([astrolab, "shard", "build-id"], capture_output=True, text=True)
    if got.returncode != 0 or got.stdout.strip() != build:
        raise VersionMismatch(
            f"version mismatch: the worker {host} runs {got.stdout.strip() or tail(got.stderr)!r} "
            f"({astrolab}), the driver planned with {build!r}; install the same astrolab everywhere"
        )
    p = subprocess.run(
        [astrolab, "shard", "run", pipeline, "--plan", plan, "--index", str(index),
         "--parts-dir", parts, "--threads", str(threads)],
        capture_output=True, text=True, preexec_fn=die_with_parent,
    )
    if p.returncode != 0:
        raise ShardFailed(f"shard {index} on {host}: {command_error(p.stderr)}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def relay(cmd, what):
    """Runs an astrolab step, relaying its JSON events; fails the job on error."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    for line in out.splitlines():
        if line.startswith("{"):
            print("ASTROLAB_EVENT " + line, flush=True)
        else:
            print(line, flush=True)
    if err.strip():
        print(tail(err, 8000), flush=True)
    if p.returncode != 0:
        fail(f"{what}: {command_error(err)}")


def discard(args, plan, receipts):
    """After a failed shard: the finished shards' results go to
    `astrolab shard discard`, which undoes what they left outside the
    output directory (rows staged in the store). Best effort: the run's
    error is the failed shard's."""
    path = os.path.join(args.staging, "finished.json")
    with open(path, "w") as f:
        json.dump(receipts, f)
    p = subprocess.run([args.astrolab, "shard", "discard", args.pipeline, "--plan", plan,
                        "--receipts", path], capture_output=True, text=True)
    if p.returncode != 0:
        print("discarding the finished shards failed: " + command_error(p.stderr), flush=True)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--astrolab", required=True)
    a.add_argument("--build", required=True)
    a.add_argument("--pipeline", required=True)
    a.add_argument("--staging", required=True)
    a.add_argument("--out-dir", required=True)
    a.add_argument("--cpus-per-shard", type=int, default=1)
    a.add_argument("--gpus-per-shard", type=float, default=0)
    a.add_argument("--max-retries", type=int, default=3)
    args = a.parse_args()

    plan = os.path.join(args.staging, "plan.json")
    parts = os.path.join(args.staging, "parts")
    relay([args.astrolab, "shard", "plan", args.pipeline,
           "--params", os.path.join(args.staging, "params.json"),
           "--out-dir", args.out_dir, "--plan", plan, "--events", "json"], "planning")
    with open(plan) as f:
        planned = json.load(f)
    n = len(planned["shards"])
    # Pipelines whose shards share a store transaction or a file say how
    # many may run at once; the rest are submitted all together.
    window = planned.get("max_parallel") or n

    ray.init(address="auto", log_to_driver=False)
    opts = dict(num_cpus=args.cpus_per_shard, max_retries=args.max_retries,
                retry_exceptions=[ShardFailed])
    if args.gpus_per_shard > 0:
        opts["num_gpus"] = args.gpus_per_shard
    def submit(i):
        return run_shard.options(**opts).remote(args.astrolab, args.build, args.pipeline, plan,
                                                i, parts, args.cpus_per_shard)

    pending = {submit(i): i for i in range(min(window, n))}
    queued = list(range(len(pending), n))
    emit({"event": "progress", "stage": "shards", "done": 0, "total": n})
    receipts = []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            i = pending.pop(ref)
            try:
                receipts.append(ray.get(ref))
            except Exception as e:  # the task's own error, after its retries
                cause = getattr(e, "cause", None) or e
                for r in pending:
                    ray.cancel(r, force=True)
                discard(args, plan, receipts)
                fail(f"shard {i}: {cause}")
            emit({"event": "progress", "stage": "shards", "done": len(receipts), "total": n})
            if queued:
                j = queued.pop(0)
                pending[submit(j)] = j
    receipts.sort(key=lambda r: r["index"])
    path = os.path.join(args.staging, "receipts.json")
    with open(path + ".tmp", "w") as f:
        json.dump(receipts, f)
    os.replace(path + ".tmp", path)
    relay([args.astrolab, "shard", "reduce", args.pipeline, "--plan", plan,
           "--receipts", path, "--executor", "ray", "--events", "json"], "reducing")


if __name__ == "__main__":
    main()
