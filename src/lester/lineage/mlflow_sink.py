"""Runs and maintenance updates as MLflow runs (``pip install lester[mlflow]``).

A Lester run becomes an MLflow run in the experiment named after its pipeline (or
``MLFLOW_EXPERIMENT_NAME``): parameters (seed, test size, source paths, code hash, model),
metrics, tags pointing back to the Lester run (``lester.run_id``, ``lester.store``,
``lester.version``) and the run's artifacts under their logical names (``train/X/00000.npy``,
``metrics/metrics.json``, ...). A maintenance update becomes a child run of it (tag
``mlflow.parentRunId``) with the update's counts, and *overwrites* the artifacts of the
parent run that the update rewrote, so MLflow holds the same data as the store.

The tracking URI is the one given (``--mlflow-uri``), else MLflow's own default:
``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the working directory. An
experiment Lester creates on a SQLite tracking store keeps its artifacts in
``mlartifacts/`` next to the database file.

Examples
--------
>>> artifact_path("train/X", "train/X#00001", "objects/ab/ab12.npy")
'train/X/00001.npy'
>>> artifact_path("metrics", "metrics", "objects/cd/cd34.json")
'metrics/metrics.json'
>>> artifact_path("pipeline.py", "pipeline.py", "objects/ef/ef56.bin")
'pipeline.py/pipeline.py'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lester.lineage import LineageConfigError
from lester.lineage.description import RunDescription

RUN_KIND = "run"


def artifact_path(name: str, logical_file: str, stored_path: str) -> str:
    """Where a stored file of artifact ``name`` goes among the MLflow run's artifacts."""
    part = logical_file.partition("#")[2] or Path(name).name
    ext = "" if Path(part).suffix else Path(stored_path).suffix  # pipeline.py stays .py
    return f"{name}/{part}{ext}"


class MlflowSink:
    """Logs runs and updates to an MLflow tracking store (see the module docstring)."""

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        try:
            import mlflow
            from mlflow.tracking import MlflowClient
        except ImportError as error:
            raise LineageConfigError(
                "MLflow logging needs the mlflow extra: pip install 'lester[mlflow]'"
            ) from error
        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        try:
            self.client = MlflowClient(tracking_uri=self.tracking_uri)
        except Exception as error:
            raise LineageConfigError(
                f"cannot open the MLflow tracking store {self.tracking_uri!r}: {error}"
            ) from error
        self._runs: dict[str, str] = {}  # lineage id -> MLflow run id

    # ------------------------------------------------------------------------ events
    def start(self, run: RunDescription) -> None:
        """Open an MLflow run (a child of the Lester run's MLflow run for an update)."""
        tags = {"lester.kind": run.kind, "lester.store": run.store,
                "lester.pipeline": run.pipeline, "lester.lineage_id": run.lineage_id}  # fmt: skip
        experiment = self._experiment_id(run.pipeline)
        if run.parent is not None:
            parent = self.find_run(run.store, run.parent.run_id) or self._mirror(run)
            tags.update({"mlflow.parentRunId": parent, "lester.run_id": run.parent.run_id})
            experiment = self.client.get_run(parent).info.experiment_id
        created = self.client.create_run(experiment, tags=tags, run_name=run.job)
        self._runs[run.lineage_id] = created.info.run_id

    def complete(self, run: RunDescription) -> None:
        """Log what the run produced; an update also overwrites its parent's artifacts."""
        mlflow_id = self._runs.pop(run.lineage_id)
        if run.parent is None:
            self._log_run(mlflow_id, run)
        else:
            self._log_update(mlflow_id, run)
        self.client.set_terminated(mlflow_id, "FINISHED")

    def fail(self, run: RunDescription, error: BaseException) -> None:
        """Mark the MLflow run failed, with the error as a tag."""
        mlflow_id = self._runs.pop(run.lineage_id, None)
        if mlflow_id is None:
            return
        self.client.set_tag(mlflow_id, "lester.error", f"{type(error).__name__}: {error}"[:5000])
        self.client.set_terminated(mlflow_id, "FAILED")

    # ------------------------------------------------------------------------ lookups
    def find_run(self, store: str, run_id: str) -> str | None:
        """The MLflow run id of a Lester run (not of its updates), if it was logged."""
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        found = self.client.search_runs(
            experiments,
            filter_string=f"tags.`lester.run_id` = '{run_id}' and tags.`lester.kind` = "
            f"'{RUN_KIND}' and tags.`lester.store` = '{store}'",
            max_results=1,
        )
        return found[0].info.run_id if found else None

    def _experiment_id(self, pipeline: str) -> str:
        name = self.experiment or pipeline
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        return self.client.create_experiment(name, artifact_location=self._artifact_root(name))

    def _artifact_root(self, experiment: str) -> str | None:
        """Next to a SQLite database file, rather than in the working directory."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return None
        database = Path(self.tracking_uri.removeprefix("sqlite:///"))
        if not database.is_absolute():
            database = Path.cwd() / database
        return (database.parent / "mlartifacts" / experiment).as_uri()

    # ------------------------------------------------------------------------ logging
    def _log_run(self, mlflow_id: str, run: RunDescription) -> None:
        for key, value in sorted(run.params.items()):
            self.client.log_param(mlflow_id, key, value[:6000])
        for key, value in sorted(run.metrics.items()):
            self.client.log_metric(mlflow_id, key, value)
        self.client.set_tag(mlflow_id, "lester.run_id", str(run.run_id))
        self.client.set_tag(mlflow_id, "lester.version", str(run.version))
        self._upload(mlflow_id, run.store, str(run.run_id), None)

    def _log_update(self, mlflow_id: str, run: RunDescription) -> None:
        for key, value in sorted(run.details.items()):
            self.client.log_param(mlflow_id, key, value[:6000])
        for key, value in sorted(run.metrics.items()):
            self.client.log_metric(mlflow_id, key, value)
        self.client.set_tag(mlflow_id, "lester.version", str(run.version))
        self.client.log_dict(mlflow_id, {"changed_artifacts": run.changed_artifacts},
                             "changed_artifacts.json")  # fmt: skip
        parent = self.client.get_run(mlflow_id).data.tags["mlflow.parentRunId"]
        self._overwrite(parent, run)
        self.client.set_tag(parent, "lester.version", str(run.version))

    def _overwrite(self, parent: str, run: RunDescription) -> None:
        """Replace the parent run's copies of the artifacts the update rewrote; the old
        files are deleted from the artifact store (physically, for a local one)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repository = get_artifact_repository(self.client.get_run(parent).info.artifact_uri)
        for name in run.changed_artifacts:
            # only the artifact's own files: "model/spec" lives inside "model/" too
            for entry in repository.list_artifacts(name):
                if not entry.is_dir:
                    repository.delete_artifacts(entry.path)
        self._upload(parent, run.store, str(run.run_id), run.changed_artifacts)

    def _upload(self, mlflow_id: str, store_root: str, run_id: str, only: list | None) -> None:
        """Copy the run's current artifacts (or ``only`` these) under their logical names."""
        from lester.store import Store

        store = Store(store_root)
        manifest = store.open_run(run_id, verify=False).manifest
        folder = store.run_path(run_id)
        with tempfile.TemporaryDirectory(prefix="lester-mlflow-") as staging:
            for name, artifact in manifest.artifacts.items():
                if only is not None and name not in only:
                    continue
                for logical, part in zip(artifact.file_names(name), artifact.parts, strict=True):
                    target = Path(staging) / artifact_path(name, logical, part.path)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(folder / part.path, target)
            if any(Path(staging).iterdir()):
                self.client.log_artifacts(mlflow_id, staging)

    def _mirror(self, run: RunDescription) -> str:
        """Log a Lester run that was never logged (as it is now), to parent its update."""
        from lester.lineage.description import RunDescription as Description
        from lester.store import Store

        assert run.parent is not None
        record = Store(run.store).run(run.parent.run_id)
        mirrored = Description(RUN_KIND, run.parent.lineage_id, run.store, run.pipeline,
                               run.started, run.parent.run_id, record.version)  # fmt: skip
        mirrored.metrics = {k: float(v) for k, v in (record.metrics or {}).items()}
        mirrored.params = {k: str(v) for k, v in (record.meta or {}).items()}
        self.start(mirrored)
        mlflow_id = self._runs.pop(mirrored.lineage_id)
        self._log_run(mlflow_id, mirrored)
        self.client.set_terminated(mlflow_id, "FINISHED")
        return mlflow_id
