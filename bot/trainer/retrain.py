"""``python -m bot.trainer retrain``: validate, train, evaluate, compare, and deploy only a model
that is no worse than the one in service.

1. ``rasa data validate`` on the data, domain and config: invalid data stops here.
2. ``rasa train`` into ``models/candidates/<time>-<data hash>.tar.gz`` (Rasa's own epoch bars).
3. Evaluation of the candidate on the held-out split (``tests/nlu``), the realistic set
   (``tests/nlu/realistic``) and the conversations set (``tests/nlu/conversations``), never
   their sealed parts, with a progress bar.
4. The deployed model's scores come from the registry when they were taken on the sets as they
   are now (a digest of their files is recorded with the scores); when a set has changed since,
   the deployed model is scored again on the current sets and its record updated, so that both
   models are judged on the same messages. With an empty registry the current
   ``models/postdesk.tar.gz`` is evaluated and recorded as the baseline in service.
5. The gate (`bot.trainer.gate`): lower intent macro-F1, an intent's F1 more than 3 points
   lower, lower accuracy on the realistic set or accuracy on the conversations set more than
   2 points lower refuses the candidate and says which and why (exit status 1).
6. A passing candidate is deployed to the running Rasa server (`bot.trainer.deploy`), unless
   ``--no-deploy``.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, TextIO

from bot.config import PROJECT_ROOT, local_now
from bot.trainer import gate
from bot.trainer.registry import DEPLOYED, ModelRecord, Registry, data_hash

RASA = str(Path(sys.executable).with_name("rasa"))
BASELINE = PROJECT_ROOT / "models" / "postdesk.tar.gz"
CANDIDATES = PROJECT_ROOT / "models" / "candidates"
HELDOUT = PROJECT_ROOT / "tests" / "nlu"

# Rasa's built-in intents, listed in every domain without examples.
_DEFAULTS = frozenset({"restart", "back", "out_of_scope", "session_start", "nlu_fallback"})

# Exit statuses.
OK, REFUSED_EXIT, INVALID_DATA, TRAINING_FAILED, DEPLOY_FAILED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Inputs:
    """What a model is trained from and evaluated on."""

    config: Path = PROJECT_ROOT / "config.yml"
    domain: Path = PROJECT_ROOT / "domain.yml"
    data: Path = PROJECT_ROOT / "data"
    heldout: Path = HELDOUT
    out: Path = CANDIDATES  # where candidate archives are written

    def digest(self) -> str:
        """A hash of what a model is trained from: config, domain, data and NLU code."""
        code = [PROJECT_ROOT / "bot" / "nlu", PROJECT_ROOT / "bot" / "text"]
        return data_hash([self.config, self.domain, self.data, *code])


def _run(args: list[str], out: TextIO) -> int:
    """Run a command from the project root, its output streamed to `out`."""
    process = subprocess.Popen(args, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert process.stdout is not None
    for line in process.stdout:
        out.write(line)
        out.flush()
    return process.wait()


def validate(inputs: Inputs, out: TextIO) -> bool:
    """``rasa data validate``, then the checks Rasa only warns about: True when all pass."""
    if _run([RASA, "data", "validate", "--quiet", "--data", str(inputs.data),
             "--domain", str(inputs.domain), "--config", str(inputs.config)], out) != 0:
        return False
    problems = strict_problems(inputs)
    for problem in problems:
        out.write(f"invalid data: {problem}\n")
    return not problems


def strict_problems(inputs: Inputs) -> list[str]:
    """What `rasa data validate` lets pass with a warning but would train a broken model:
    intents used in stories or rules, or with examples, that the domain does not list; domain
    intents without examples; one example under two intents; unknown actions and forms."""
    from rasa.shared.core.events import UserUttered
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    importer = TrainingDataImporter.load_from_dict(
        config_path=str(inputs.config), domain_path=str(inputs.domain),
        training_data_paths=[str(inputs.data)])
    validator = Validator.from_importer(importer)
    domain_intents = set(validator.domain.intents)
    used = {e.intent_name for step in validator.story_graph.story_steps for e in step.events
            if isinstance(e, UserUttered) and e.intent_name}
    examples = {m.get("intent") for m in validator.intents.intent_examples}
    problems = [f"intent '{i}' is used in stories or rules but not listed in the domain"
                for i in sorted(used - domain_intents)]
    problems += [f"intent '{i}' has training examples but is not listed in the domain"
                 for i in sorted(examples - domain_intents)]
    problems += [f"intent '{i}' is listed in the domain but has no training examples"
                 for i in sorted(domain_intents - examples)
                 if not i.startswith(("nlu_fallback", "out_of_scope")) and i not in _DEFAULTS]
    for name, check in (("example under two intents",
                         lambda: validator.verify_example_repetition_in_intents(False)),
                        ("unknown action in stories or rules",
                         validator.verify_actions_in_stories_rules),
                        ("unknown form in stories or rules",
                         validator.verify_forms_in_stories_rules),
                        ("invalid domain", validator.verify_domain_validity)):
        if not check():
            problems.append(f"{name} (see the warnings above)")
    return problems


def train(inputs: Inputs, name: str, out: TextIO) -> Optional[Path]:
    """``rasa train`` into the candidates folder; the archive, or None when training failed."""
    inputs.out.mkdir(parents=True, exist_ok=True)
    code = _run([RASA, "train", "--config", str(inputs.config), "--domain", str(inputs.domain),
                 "--data", str(inputs.data), "--out", str(inputs.out), "--fixed-model-name",
                 name], out)
    model = inputs.out / f"{name}.tar.gz"
    return model if code == 0 and model.is_file() else None


# The key of a model's metrics that records which evaluation files they were taken on.
SETS_KEY = "sets"


def sets_digest(heldout: Path) -> str:
    """SHA-256 over the files `score` evaluates on: the ``*.yml`` of the held-out split and of
    the realistic and conversations sets (not their sealed parts), by path and content."""
    from bot.nlu.evaluate import CONVERSATIONS, REALISTIC

    return data_hash([file for folder in (heldout, heldout / REALISTIC, heldout / CONVERSATIONS)
                      for file in sorted(folder.glob("*.yml"))])


def score(model: Path, heldout: Path) -> dict:
    """The registry metrics of `model` on the held-out split and, when `heldout` has them, the
    realistic and conversations sets (progress bar on stderr), with the digest of those sets."""
    from bot.nlu.evaluate import evaluate_sets, evaluation_sets

    metrics = gate.metrics_of(evaluate_sets(model, evaluation_sets(heldout, numbers=False),
                                            progress=True))
    return {**metrics, SETS_KEY: sets_digest(heldout)}


def in_service(registry: Registry, heldout: Path, now: datetime, out: TextIO) -> ModelRecord | None:
    """The deployed model, with scores taken on the current evaluation sets.

    With an empty registry the baseline model is scored and recorded. A deployed model scored
    on other sets (one has grown since, or it was scored before digests were recorded) is
    scored again and its record updated; if its file is gone, its recorded scores stand.
    """
    current = registry.deployed()
    if current is None:
        if registry.all() or not BASELINE.is_file():
            return None
        out.write(f"no model in the registry yet: scoring {BASELINE.name} "
                  f"as the model in service\n")
        record = registry.register(BASELINE, data_hash(), score(BASELINE, heldout), now,
                                   status=DEPLOYED, note=f"baseline: {BASELINE.name}")
        return registry.mark_deployed(record.id, now)
    if current.metrics.get(SETS_KEY) == sets_digest(heldout):
        return current
    if not Path(current.file).is_file():
        out.write(f"the evaluation sets changed since model {current.id} was scored, and its file "
                  f"{current.file} is gone: comparing with the scores recorded then\n")
        return current
    out.write(f"the evaluation sets changed since model {current.id} was scored: scoring it again "
              f"on the current sets\n")
    return registry.rescore(current.id, score(Path(current.file), heldout))


def retrain(inputs: Inputs, registry: Registry, deployer: Optional[Callable[[int], str]],
            out: TextIO = sys.stdout, now: Callable[[], datetime] = local_now) -> int:
    """Run the whole pipeline; returns the exit status.

    Args:
        deployer: puts a model id into service and returns what it did (None: --no-deploy).
    """
    from tqdm import tqdm

    steps = tqdm(total=5, desc="retrain", unit="step", file=sys.stderr)
    try:
        steps.set_postfix_str("validating data")
        if not validate(inputs, out):
            out.write("data validation failed (see above): nothing trained\n")
            return INVALID_DATA
        steps.update()
        digest = inputs.digest()
        name = f"{now():%Y%m%d-%H%M%S}-{digest[:8]}"
        steps.set_postfix_str(f"training {name}")
        model = train(inputs, name, out)
        if model is None:
            out.write("training failed (see above): nothing registered\n")
            return TRAINING_FAILED
        steps.update()
        steps.set_postfix_str("the model in service")
        # Before the candidate is registered: an empty registry means "score the baseline".
        current = in_service(registry, inputs.heldout, now(), out)
        steps.update()
        steps.set_postfix_str("evaluating the candidate")
        metrics = score(model, inputs.heldout)
        candidate = registry.register(model, digest, metrics, now())
        steps.update()
        verdict = gate.judge(metrics, current.metrics if current else None)
        registry.judge(candidate.id, not verdict.deploy, verdict.reasons)
        steps.set_postfix_str("gate")
        steps.update()
    finally:
        steps.close()
    against = f"model {current.id} ({Path(current.file).name})" if current else "nothing"
    out.write(f"candidate model {candidate.id} ({model.name}) against {against}:\n")
    out.write(gate.report(verdict) + "\n")
    if not verdict.deploy:
        out.write(f"model {candidate.id} is NOT deployed.\n")
        return REFUSED_EXIT
    if deployer is None:
        out.write(f"model {candidate.id} passed; not deployed (--no-deploy). "
                  f"Deploy it with: python -m bot.trainer deploy {candidate.id}\n")
        return OK
    try:
        out.write(deployer(candidate.id) + "\n")
    except Exception as exc:  # noqa: BLE001 - reported with the model id, the registry says the rest
        out.write(f"model {candidate.id} passed the gate but was not deployed: {exc}\n")
        return DEPLOY_FAILED
    return OK
