#!/usr/bin/env python3
"""Planted mutations of the election's safety code, each run against the simulation.

Each mutation replaces one exact piece of source with a plausible mistake (a check skipped, a
guard dropped, a bookkeeping entry lost). The script applies it to a copy of the working tree,
runs the CI sweep and the named scenarios (`tests/simulation.rs`), and reports whether the
simulation caught it, and with which tests. A mutation whose text no longer matches the source
is reported as such, never silently skipped.

    scripts/mutations.py                 # every mutation
    scripts/mutations.py M4 M8           # some
    SIM_SEEDS=1000 scripts/mutations.py  # a longer sweep per mutation
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

# (id, what the mistake is, file, original, mutated)
MUTATIONS = [
    ("M1", "the lease check skipped: a Lead without a live lease",
     "src/supervisor/lead.rs",
     "Lifecycle::Running { held: Some(held), .. } if self.lease_holds() =>",
     "Lifecycle::Running { held: Some(held), .. } =>"),
    ("M2", "no step-down when the lease lapses while grants stand",
     "src/supervisor/lead.rs",
     "if lead.is_none() && self.holds_latch()",
     "if false && self.holds_latch()"),
    ("M3", "re-grant on the lease alone (bug 3)",
     "src/supervisor/grant.rs",
     "fn checked(&mut self, _msg: LeaseChanged, _lead: Option<&Lead>, _ctx: &mut Context<Self>) {}",
     "fn checked(&mut self, _msg: LeaseChanged, lead: Option<&Lead>, _ctx: &mut Context<Self>) {\n"
     "        if let Some(lead) = lead { self.grant_all(lead); }\n    }"),
    ("M4", "first place taken from the listing, not proven at the leader (bug 2)",
     "src/latch/mod.rs",
     "            self.prove_first(node, ctx);",
     "            self.stand(Standing::First);"),
    ("M5", "a proof that finds our node gone is ignored",
     "src/latch/mod.rs",
     "                    info!(node = %node, \"our latch node is gone (the listing was stale); rejoining\");\n"
     "                    act.reset(ctx);",
     "                    info!(node = %node, \"our latch node is gone (the listing was stale); rejoining\");"),
    ("M6", "a confirm of any leader session is accepted",
     "src/supervisor/grant.rs",
     "(Role::Granted { leader_session }, Change::Confirm(lead, confirmed)) if *leader_session == confirmed =>",
     "(Role::Granted { .. }, Change::Confirm(lead, confirmed)) =>"),
    ("M7", "a revoke does not void the answers under way",
     "src/supervisor/grant.rs",
     "    pub(super) fn revoke_all(&mut self) {\n        self.port.next_epoch();",
     "    pub(super) fn revoke_all(&mut self) {"),
    ("M8", "a node whose delete is under way is not handed over at stop (bug 4)",
     "src/latch/cleanup.rs",
     "(self.nodes.into_iter().collect(), self.prefixes.into_iter().collect())",
     "(self.nodes.difference(&self.deleting).cloned().collect(), self.prefixes.into_iter().collect())"),
    ("M9", "a stopped latch forgets its node in line",
     "src/latch/mod.rs",
     "Place::InLine { node, .. } => leftovers.node = Some(node.path),",
     "Place::InLine { .. } => {}"),
    ("M10", "our own node is not watched",
     "src/latch/mod.rs",
     "        self.arm_watch(WatchSlot::OwnNode, node.clone(), ctx);\n",
     ""),
    ("M11", "the leader node is written unguarded (a plain multi, no latch-node check)",
     "src/supervisor/publish.rs",
     "let write = GuardedMulti { guard: lead.latch_node().to_owned(), guard_version: None, ops };",
     "let write = GuardedMulti { guard: \"/\".to_owned(), guard_version: None, ops };"),
    ("M12", "a leave deletes the leader node whoever owns it",
     "src/supervisor/leave.rs",
     "Ok(Some(stat)) if stat.ephemeral_owner == owner => stat,",
     "Ok(Some(stat)) => stat,"),
    ("M13", "followers watch the first in line, not their predecessor (herd effect)",
     "src/latch/mod.rs",
     "let predecessor = format!(\"{}/{}\", self.latch_path, ordered[position - 1]);",
     "let predecessor = format!(\"{}/{}\", self.latch_path, ordered[0]);"),
    ("M14", "Standard keeps leading through Suspended",
     "src/latch/upkeep.rs",
     "                if self.policy == ConnectionLossPolicy::Standard {\n"
     "                    self.stand(Standing::Behind { watching: None });\n                }",
     "                let _ = ConnectionLossPolicy::Standard;"),
    ("M15", "a stale answer is taken for a fresh one (the epoch ignored)",
     "src/port/mod.rs",
     "let freshness = if act.port().epoch == epoch { Freshness::Current } else { Freshness::Stale };",
     "let freshness = if act.port().epoch >= epoch { Freshness::Current } else { Freshness::Stale };"),
    ("M16", "a lease that never ends once the session is up",
     "src/port/lease.rs",
     "self.until().is_some_and(|until| at < until)",
     "self.until().is_some_and(|_until| at == at)"),
    ("M17", "the supervisor waits to be told of a lapse (no wake-up at the lease's end)",
     "src/supervisor/lead.rs",
     "                self.watch_lease_end(ctx);\n",
     ""),
    ("M18", "a follower writes the leave record too (it overwrites the leader's)",
     "src/latch/mod.rs",
     "self.place.first().map(|node| leave_record(&self.latch_path, node.owner))",
     "self.place.node().map(|node| leave_record(&self.latch_path, node.owner))"),
]


# A mutant that makes the simulation spin at one simulated instant never ends: that is caught
# too (CI would time out), after this long.
TIMEOUT_S = 900


def run(cmd, cwd, env):
    # A session of its own, so that a timeout kills cargo and the test binary it runs.
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as child:
        try:
            out, _ = child.communicate(timeout=TIMEOUT_S)
            return subprocess.CompletedProcess(cmd, child.returncode, out)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            out, _ = child.communicate()
            return subprocess.CompletedProcess(cmd, -1, out + "\nTIMEOUT\n")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wanted = set(sys.argv[1:])
    chosen = [m for m in MUTATIONS if not wanted or m[0] in wanted]
    target = os.path.join(root, "target", "mutations")
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    test = ["cargo", "test", "--release", "--features", "simulation", "--test", "simulation"]
    print("| mutation | mistake | outcome | caught by |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="zk-election-mutant-") as copy:
        tree = os.path.join(copy, "tree")
        shutil.copytree(root, tree, ignore=shutil.ignore_patterns("target", ".git"))
        baseline = run(test, tree, env)
        if baseline.returncode != 0:
            sys.exit("the unmutated tree fails the simulation:\n" + baseline.stdout[-4000:])
        for ident, mistake, path, original, mutated in chosen:
            file = os.path.join(tree, path)
            with open(file) as f:
                source = f.read()
            if source.count(original) != 1:
                print(f"| {ident} | {mistake} | source changed: mutation does not apply | |", flush=True)
                continue
            with open(file, "w") as f:
                f.write(source.replace(original, mutated))
            try:
                result = run(test, tree, env)
            finally:
                with open(file, "w") as f:
                    f.write(source)
            if "error[" in result.stdout or "could not compile" in result.stdout:
                outcome, by = "does not compile", ""
            elif result.returncode == -1:
                outcome, by = "caught", f"the simulation no longer ends (killed after {TIMEOUT_S} s)"
            elif result.returncode == 0:
                outcome, by = "**survived**", ""
            else:
                failed = re.findall(r"^test (\S+) \.\.\. FAILED", result.stdout, re.M)
                broke = re.findall(r"^(seed \d+) broke: ([^:]+)", result.stdout, re.M)
                properties = sorted({p for _, p in broke})
                outcome = "caught"
                by = ", ".join(f"`{t}`" for t in failed)
                if properties:
                    by += " (" + "; ".join(properties) + f"; {len(broke)} seeds)"
            print(f"| {ident} | {mistake} | {outcome} | {by} |", flush=True)


if __name__ == "__main__":
    main()
