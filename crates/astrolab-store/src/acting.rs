//! A store acting for one principal: the submitter of a run.
//!
//! A run reads through the same store as the CLI, so the dataset rules
//! are applied here, at the root, rather than by each command: once
//! [`Store::act_for_run`] is called, cone searches and crossmatches leave
//! out rows of files the submitter may not read, arbitrary read-only SQL
//! is refused while anything is restricted to them (it cannot be checked
//! row by row), and every read that touches a restricted dataset is
//! audited (`dataset.read`, actor `USER (run N)`) and recorded on the run
//! ([`Store::note_run_restriction`]), so the run, its outputs and whatever
//! is later ingested from them stay restricted to the same projects.
//!
//! A store that acts for nobody (the CLI of someone holding the database
//! credentials, who can read every table anyway) applies no rules.

use std::io::Write;

use crate::datasets::ReadRules;
use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::{AuditEvent, Role};

/// For whom a store reads.
#[derive(Debug, Clone)]
pub struct Acting {
    /// `USER (run N)`: the audit trail's actor.
    pub actor: String,
    /// The principal's projects.
    pub projects: Vec<String>,
    /// The run, when acting for one.
    pub run_id: Option<i64>,
    /// The principal's rules.
    pub rules: ReadRules,
}

impl Store {
    /// From now on, reads apply the dataset rules of the submitter of run
    /// `run_id` with their current role and projects (a disabled or
    /// deleted account runs nothing: fail closed).
    pub fn act_for_run(&mut self, run_id: i64) -> Result<()> {
        let run = self.get_run(run_id)?.ok_or_else(|| {
            StoreError::bad_request("ASTROLAB_RUN_ID", format!("no run {run_id} in the store"))
        })?;
        let user = match self.user_by_name(&run.submitted_by)? {
            Some((u, _)) if !u.disabled => u,
            _ => {
                return Err(StoreError::Forbidden(format!(
                    "run {run_id}: its submitter {:?} has no active account, so nothing may be read for it",
                    run.submitted_by
                )))
            }
        };
        let rules = self.read_rules(&user.projects, user.role == Role::Admin)?;
        self.acting = Some(Acting {
            actor: format!("{} (run {run_id})", user.username),
            projects: user.projects.clone(),
            run_id: Some(run_id),
            rules,
        });
        Ok(())
    }

    /// For whom this store reads, when it acts for someone.
    pub fn acting(&self) -> Option<&Acting> {
        self.acting.as_ref()
    }

    /// Files the principal may not read (empty when acting for nobody).
    pub(crate) fn acting_forbidden(&self) -> Vec<i64> {
        self.acting
            .as_ref()
            .map(|a| a.rules.forbidden_ids())
            .unwrap_or_default()
    }

    /// Whether the principal may read this file (true when acting for
    /// nobody).
    pub(crate) fn acting_may_read(&self, file_id: i64) -> bool {
        self.acting
            .as_ref()
            .is_none_or(|a| a.rules.may_read(file_id))
    }

    /// Refuses what cannot be checked against the rules (arbitrary SQL)
    /// while the principal may not read some file, or while it may read
    /// restricted files (their rows could not be traced to mark the run).
    pub(crate) fn acting_refuse_unchecked(&self, what: &str) -> Result<()> {
        match &self.acting {
            Some(a) if !a.rules.nothing_restricted() => Err(StoreError::Forbidden(format!(
                "{what} cannot be checked against the dataset rules row by row, and this store holds restricted datasets; a run may use the cone, crossmatch and pipeline commands, which apply them"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a change of the lab's shared state (the spectra index, void
    /// membership, a replaced recording or catalog version) unless the
    /// principal is an admin. A store acting for nobody is the operator's.
    pub(crate) fn acting_require_admin(&self, what: &str) -> Result<()> {
        match &self.acting {
            Some(a) if !a.rules.is_admin() => Err(StoreError::Forbidden(format!(
                "{what} belongs to the whole lab: a run changes it only when an admin submits it ({} is not an admin); run it without the store or ask an admin",
                a.actor
            ))),
            _ => Ok(()),
        }
    }

    /// Records a read of these files by the principal: when it touches
    /// restricted datasets, an audit event and the run's restriction.
    pub(crate) fn acting_note_read(
        &mut self,
        what: &str,
        file_ids: impl IntoIterator<Item = i64> + Clone,
    ) -> Result<()> {
        let Some(a) = self.acting.clone() else {
            return Ok(());
        };
        let datasets = a.rules.restricted_datasets(file_ids.clone());
        if datasets.is_empty() {
            return Ok(());
        }
        let projects = a.rules.restriction_projects(file_ids).unwrap_or_default();
        if let Some(run) = a.run_id {
            self.note_run_restriction(run, &projects)?;
        }
        let mut e = AuditEvent::new(
            a.actor.clone(),
            a.run_id.map(|r| format!("run {r}")).unwrap_or_default(),
            "dataset.read",
            datasets.join(","),
            "ok",
        );
        e.details = serde_json::json!({ "read": what, "run_id": a.run_id });
        self.append_audit(&e)?;
        append_audit_line(&self.config.home, &e);
        Ok(())
    }
}

impl Store {
    /// Checks the files a run was given as parameters (files, or every
    /// file under a directory) against its submitter's rules before the
    /// run starts: a file of a dataset they may not read, or bytes that a
    /// restricted run wrote for projects they are not in, refuse the run
    /// (naming the file); restricted files they may read are audited and
    /// restrict the run. A file is recognised by its registered path, and
    /// by its checksum where its size is that of a restricted file (a copy
    /// elsewhere is caught without hashing every input).
    pub fn check_run_inputs(&mut self, run_id: i64, paths: &[std::path::PathBuf]) -> Result<()> {
        let previous = self.acting.take();
        let res = self
            .act_for_run(run_id)
            .and_then(|()| self.check_inputs_as_acting(paths));
        self.acting = previous;
        res
    }

    fn check_inputs_as_acting(&mut self, paths: &[std::path::PathBuf]) -> Result<()> {
        let Some(a) = self.acting.clone() else {
            return Ok(());
        };
        let files = self.raw_files()?;
        let sensitive =
            |id: i64| !a.rules.may_read(id) || !a.rules.restricted_datasets([id]).is_empty();
        let mut sizes: std::collections::BTreeSet<i64> = files
            .iter()
            .filter(|f| sensitive(f.file_id))
            .map(|f| f.size_bytes)
            .collect();
        sizes.extend(self.restricted_output_sizes()?);
        let mut inputs = Vec::new();
        for p in paths {
            collect_files(p, &mut inputs)?;
        }
        for path in inputs {
            let shown = path.display().to_string();
            let size = std::fs::metadata(&path)
                .map_err(|e| StoreError::Io {
                    path: path.clone(),
                    source: e,
                })?
                .len() as i64;
            let mut ids: Vec<i64> = files
                .iter()
                .filter(|f| f.source == shown)
                .map(|f| f.file_id)
                .collect();
            let mut derived = None;
            if sizes.contains(&size) {
                let (_, sha) = crate::registry::file_digest(&path)?;
                ids.extend(files.iter().filter(|f| f.sha256 == sha).map(|f| f.file_id));
                derived = self.derived_restriction(&sha)?;
            }
            if let Some(id) = ids.iter().find(|id| !a.rules.may_read(**id)) {
                return Err(StoreError::Forbidden(format!(
                    "{shown} is raw file {id}, in a restricted dataset that {} may not read",
                    a.actor
                )));
            }
            if let Some(projects) = &derived {
                let member = a.projects.iter().any(|p| projects.contains(p));
                if !(a.rules.is_admin() || member) {
                    return Err(StoreError::Forbidden(format!(
                        "{shown} was written by a run that read restricted data, which {} may not read",
                        a.actor
                    )));
                }
                if let Some(run) = a.run_id {
                    self.note_run_restriction(run, projects)?;
                }
            }
            self.acting_note_read(&format!("input file {shown}"), ids)?;
        }
        Ok(())
    }
}

/// Regular files at `path` (itself, or everything under a directory;
/// symbolic links are not followed out of it), sorted.
fn collect_files(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            })?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    }
    Ok(())
}

/// The audit event as one JSON line in `HOME/audit/audit.jsonl`, the file
/// the server and the CLI append to (one write per line: O_APPEND keeps
/// lines whole across processes). A failure is logged: the database row
/// is the record that counts.
fn append_audit_line(home: &std::path::Path, e: &AuditEvent) {
    let dir = home.join("audit");
    let line = serde_json::json!({
        "time": e.at, "actor": e.actor, "source": e.source, "action": e.action,
        "target": e.target, "outcome": e.outcome, "details": e.details,
    });
    let res = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("audit.jsonl"))?;
        f.write_all(format!("{line}\n").as_bytes())
    });
    if let Err(err) = res {
        tracing::error!(error = %err, "writing the audit file");
    }
}
