//! Datasets (migration 6): named groups of raw files, `public` or
//! `restricted` to named projects, and the store-size figures of the
//! dashboard.
//!
//! Access rules:
//! * a file in no dataset is public (the lab's DESI data is public);
//! * a file is readable when at least one dataset holding it is readable:
//!   public, or restricted to a project the caller belongs to; admins read
//!   everything;
//! * membership follows the file's registry *name*: a new version of a
//!   file (see the raw registry) stays in the datasets of the old one, so
//!   re-ingesting a restricted file never makes its rows public.
//!
//! Rows are filtered by `file_id`: [`Store::forbidden_file_ids`] gives the
//! ids to pass as [`crate::ConeQuery::exclude_file_ids`].

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use crate::accounts::{check_name, clean_projects};
use crate::error::{Result, StoreError};
use crate::registry::now_rfc3339;
use crate::schema;
use crate::store::{Conn, Store};
use crate::tx::{int, text, txt};
use crate::value::Value;

/// Who may read a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, including viewers.
    Public,
    /// Members of the dataset's projects, and admins.
    Restricted,
}

impl Visibility {
    /// `public` or `restricted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Restricted => "restricted",
        }
    }
}

impl std::fmt::Display for Visibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = StoreError;

    /// Parses `public` or `restricted` (any case).
    fn from_str(s: &str) -> Result<Visibility> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" => Ok(Visibility::Public),
            "restricted" => Ok(Visibility::Restricted),
            _ => Err(StoreError::bad_request(
                "visibility",
                format!("{s:?} is not a visibility; choose public or restricted"),
            )),
        }
    }
}

/// A dataset with its size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dataset {
    /// Name (unique): letters, digits and `._-@+`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who may read it.
    pub visibility: Visibility,
    /// Projects whose members may read it when restricted (sorted).
    pub projects: Vec<String>,
    /// Live (not superseded) raw files in it.
    pub files: i64,
    /// Rows loaded from those files.
    pub rows: i64,
    /// Bytes of those files.
    pub bytes: i64,
}

fn superseded_false(store: &Store) -> &'static str {
    match store.conn {
        Conn::Sqlite { .. } => "r.superseded = 0",
        Conn::Postgres(_) => "NOT r.superseded",
    }
}

impl Store {
    /// Creates a dataset or replaces its description, visibility and
    /// projects (files stay).
    pub fn upsert_dataset(
        &mut self,
        name: &str,
        description: &str,
        visibility: Visibility,
        projects: &[String],
    ) -> Result<Dataset> {
        check_name("dataset", name)?;
        let projects = clean_projects(projects)?;
        let mut tx = self.begin()?;
        tx.execute(
            "INSERT INTO datasets (name, description, visibility, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET description = excluded.description, visibility = excluded.visibility",
            "INSERT INTO datasets (name, description, visibility, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET description = excluded.description, visibility = excluded.visibility",
            &[txt(name), txt(description), txt(visibility.as_str()), txt(&now_rfc3339())],
        )?;
        tx.execute(
            "DELETE FROM dataset_projects WHERE dataset = ?1",
            "DELETE FROM dataset_projects WHERE dataset = $1",
            &[txt(name)],
        )?;
        for p in &projects {
            tx.execute(
                "INSERT INTO dataset_projects (dataset, project) VALUES (?1, ?2)",
                "INSERT INTO dataset_projects (dataset, project) VALUES ($1, $2)",
                &[txt(name), txt(p)],
            )?;
        }
        tx.commit()?;
        self.dataset(name)?
            .ok_or_else(|| StoreError::BadInput(format!("dataset {name} vanished after creation")))
    }

    /// Adds a raw file to a dataset; false when it was already there. An
    /// unknown dataset or file is a `BadRequest`.
    pub fn add_file_to_dataset(&mut self, dataset: &str, file_id: i64) -> Result<bool> {
        if self.dataset(dataset)?.is_none() {
            return Err(StoreError::bad_request(
                "dataset",
                format!("no dataset named {dataset:?}"),
            ));
        }
        let exists = self.query_rows(
            "SELECT 1 FROM raw_files WHERE file_id = ?1",
            "SELECT 1 FROM raw_files WHERE file_id = $1",
            &[Value::Int(file_id)],
        )?;
        if exists.is_empty() {
            return Err(StoreError::bad_request(
                "file_id",
                format!("no raw file with id {file_id}"),
            ));
        }
        Ok(self.execute(
            "INSERT INTO dataset_files (dataset, file_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            "INSERT INTO dataset_files (dataset, file_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[txt(dataset), Value::Int(file_id)],
        )? > 0)
    }

    /// Removes a raw file from a dataset; false when it was not there.
    pub fn remove_file_from_dataset(&mut self, dataset: &str, file_id: i64) -> Result<bool> {
        Ok(self.execute(
            "DELETE FROM dataset_files WHERE dataset = ?1 AND file_id = ?2",
            "DELETE FROM dataset_files WHERE dataset = $1 AND file_id = $2",
            &[txt(dataset), Value::Int(file_id)],
        )? > 0)
    }

    fn datasets_where(&mut self, name: Option<&str>) -> Result<Vec<Dataset>> {
        let (ws, wp, params) = match name {
            Some(n) => ("WHERE name = ?1", "WHERE name = $1", vec![txt(n)]),
            None => ("", "", vec![]),
        };
        let rows = self.query_rows(
            &format!("SELECT name, description, visibility FROM datasets {ws} ORDER BY name"),
            &format!("SELECT name, description, visibility FROM datasets {wp} ORDER BY name"),
            &params,
        )?;
        let live = superseded_false(self);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name = text(&r[0]);
            let projects = self
                .query_rows(
                    "SELECT project FROM dataset_projects WHERE dataset = ?1 ORDER BY project",
                    "SELECT project FROM dataset_projects WHERE dataset = $1 ORDER BY project",
                    &[txt(&name)],
                )?
                .iter()
                .map(|p| text(&p[0]))
                .collect();
            let inner = "SELECT r1.name FROM dataset_files df JOIN raw_files r1 ON r1.file_id = df.file_id WHERE df.dataset =";
            let sizes = self.query_rows(
                &format!("SELECT COUNT(*), COALESCE(SUM(r.rows_loaded), 0), COALESCE(SUM(r.size_bytes), 0) FROM raw_files r WHERE {live} AND r.name IN ({inner} ?1)"),
                &format!("SELECT COUNT(*), COALESCE(SUM(r.rows_loaded), 0)::bigint, COALESCE(SUM(r.size_bytes), 0)::bigint FROM raw_files r WHERE {live} AND r.name IN ({inner} $1)"),
                &[txt(&name)],
            )?;
            let s = sizes.first().cloned().unwrap_or_default();
            let visibility = Visibility::from_str(&text(&r[2]))?;
            out.push(Dataset {
                name,
                description: text(&r[1]),
                visibility,
                projects,
                files: s.first().map_or(0, int),
                rows: s.get(1).map_or(0, int),
                bytes: s.get(2).map_or(0, int),
            });
        }
        Ok(out)
    }

    /// Every dataset, by name.
    pub fn list_datasets(&mut self) -> Result<Vec<Dataset>> {
        self.datasets_where(None)
    }

    /// One dataset.
    pub fn dataset(&mut self, name: &str) -> Result<Option<Dataset>> {
        Ok(self.datasets_where(Some(name))?.into_iter().next())
    }

    /// Whether a caller in `projects` may read the dataset (false for an
    /// unknown dataset, true for admins otherwise).
    pub fn can_read_dataset(
        &mut self,
        name: &str,
        projects: &[String],
        is_admin: bool,
    ) -> Result<bool> {
        let Some(d) = self.dataset(name)? else {
            return Ok(false);
        };
        Ok(is_admin
            || d.visibility == Visibility::Public
            || d.projects.iter().any(|p| projects.contains(p)))
    }

    /// The dataset holding files derived from restricted data that
    /// members of `projects` may read (created on first use):
    /// `derived-P1+P2`, or `derived-admins` when no project may. Files
    /// ingested from a restricted run's outputs go there, so the
    /// restriction follows the data rather than the file's name or path.
    pub fn derived_dataset(&mut self, projects: &[String]) -> Result<String> {
        let projects = clean_projects(projects)?;
        let mut name = if projects.is_empty() {
            "derived-admins".to_string()
        } else {
            format!("derived-{}", projects.join("+"))
        };
        if name.len() > 128 {
            use sha2::Digest;
            let h = sha2::Sha256::digest(projects.join("+").as_bytes());
            name = format!("derived-{}", &hex::encode(h)[..16]);
        }
        if self.dataset(&name)?.is_none() {
            self.upsert_dataset(
                &name,
                "results derived from restricted data (runs' outputs and what was ingested from them)",
                Visibility::Restricted,
                &projects,
            )?;
        }
        Ok(name)
    }

    /// The access rules of one reader, resolved once for a request or a
    /// run: which files it may not read, and which restricted datasets a
    /// read of a file it may read touches (for the audit trail and for
    /// carrying restrictions forward to what is derived from it).
    pub fn read_rules(&mut self, projects: &[String], is_admin: bool) -> Result<ReadRules> {
        let datasets = self.list_datasets()?;
        let by_name: BTreeMap<&str, &Dataset> =
            datasets.iter().map(|d| (d.name.as_str(), d)).collect();
        // Every version of every member file, with its datasets.
        let rows = self.query_rows(
            "SELECT r2.file_id, df.dataset FROM dataset_files df JOIN raw_files r1 ON r1.file_id = df.file_id JOIN raw_files r2 ON r2.name = r1.name",
            "SELECT r2.file_id, df.dataset FROM dataset_files df JOIN raw_files r1 ON r1.file_id = df.file_id JOIN raw_files r2 ON r2.name = r1.name",
            &[],
        )?;
        let mut holders: BTreeMap<i64, Vec<&Dataset>> = BTreeMap::new();
        for r in &rows {
            let name = text(&r[1]);
            // A dataset row without its dataset cannot be decided: such a
            // file counts as restricted to nobody (fail closed).
            let d = by_name.get(name.as_str()).copied();
            let e = holders.entry(int(&r[0])).or_default();
            if let Some(d) = d {
                e.push(d);
            }
        }
        let mut rules = ReadRules {
            admin: is_admin,
            ..ReadRules::default()
        };
        for (file_id, ds) in holders {
            if ds.iter().any(|d| d.visibility == Visibility::Public) {
                continue;
            }
            let readable = is_admin
                || ds
                    .iter()
                    .any(|d| d.projects.iter().any(|p| projects.contains(p)));
            if !readable {
                rules.forbidden.insert(file_id);
                continue;
            }
            rules.restricted.insert(
                file_id,
                ds.iter()
                    .map(|d| (d.name.clone(), d.projects.clone()))
                    .collect(),
            );
        }
        Ok(rules)
    }

    /// Ids of the raw files (every version) the caller may not read: files
    /// in restricted datasets and in no dataset the caller may read.
    /// Empty for admins.
    pub fn forbidden_file_ids(&mut self, projects: &[String], is_admin: bool) -> Result<Vec<i64>> {
        if is_admin {
            return Ok(Vec::new());
        }
        let readable: BTreeSet<String> = self
            .list_datasets()?
            .into_iter()
            .filter(|d| {
                d.visibility == Visibility::Public
                    || d.projects.iter().any(|p| projects.contains(p))
            })
            .map(|d| d.name)
            .collect();
        let mut readable_file: BTreeMap<i64, bool> = BTreeMap::new();
        for (file_id, dataset) in self.dataset_file_versions()? {
            *readable_file.entry(file_id).or_insert(false) |= readable.contains(&dataset);
        }
        Ok(readable_file
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(id, _)| id)
            .collect())
    }

    /// Every version of every member file, with its dataset.
    fn dataset_file_versions(&mut self) -> Result<Vec<(i64, String)>> {
        let sql = "SELECT r2.file_id, df.dataset FROM dataset_files df JOIN raw_files r1 ON r1.file_id = df.file_id JOIN raw_files r2 ON r2.name = r1.name";
        Ok(self
            .query_rows(sql, sql, &[])?
            .iter()
            .map(|r| (int(&r[0]), text(&r[1])))
            .collect())
    }

    /// The restricted datasets a read of rows from `file_ids` discloses,
    /// sorted (the `dataset.read` audit event names them): the restricted
    /// datasets holding those of the files that not everyone may read. A
    /// file also in a public dataset discloses nothing.
    pub fn restricted_datasets_of(&mut self, file_ids: &[i64]) -> Result<Vec<String>> {
        let not_public: BTreeSet<i64> = self.forbidden_file_ids(&[], false)?.into_iter().collect();
        let read: BTreeSet<i64> = file_ids
            .iter()
            .copied()
            .filter(|f| not_public.contains(f))
            .collect();
        if read.is_empty() {
            return Ok(Vec::new());
        }
        let restricted: BTreeSet<String> = self
            .list_datasets()?
            .into_iter()
            .filter(|d| d.visibility == Visibility::Restricted)
            .map(|d| d.name)
            .collect();
        let names: BTreeSet<String> = self
            .dataset_file_versions()?
            .into_iter()
            .filter(|(f, d)| read.contains(f) && restricted.contains(d))
            .map(|(_, d)| d)
            .collect();
        Ok(names.into_iter().collect())
    }

    /// Size of the database: `pg_database_size` on PostgreSQL, pages times
    /// page size of the SQLite file (WAL not counted).
    pub fn database_size_bytes(&mut self) -> Result<i64> {
        let rows = self.query_rows(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            "SELECT pg_database_size(current_database())",
            &[],
        )?;
        Ok(rows.first().map_or(0, |r| int(&r[0])))
    }

    /// Row count of every catalog table (schema.rs), in schema order.
    pub fn table_row_counts(&mut self) -> Result<Vec<(String, i64)>> {
        self.table_row_counts_excluding(&[])
    }

    /// Row count of every catalog table without the rows of
    /// `exclude_file_ids` (a caller's [`Store::forbidden_file_ids`]), in
    /// schema order: one count per table, as the plain counts. Counted,
    /// not taken from `raw_files.rows_loaded`: that is per file, and a
    /// file may fill several tables (a V2 void catalog fills three).
    pub fn table_row_counts_excluding(
        &mut self,
        exclude_file_ids: &[i64],
    ) -> Result<Vec<(String, i64)>> {
        if exclude_file_ids.is_empty() {
            return schema::TABLES
                .iter()
                .map(|t| Ok((t.name.to_string(), self.count_rows(t.name)?)))
                .collect();
        }
        let pg = self.backend() == crate::Backend::Postgres;
        let (cond, ids) = crate::query::not_in_ids("file_id", exclude_file_ids, pg, 1);
        schema::TABLES
            .iter()
            .map(|t| {
                let sql = format!("SELECT COUNT(*) FROM {} WHERE {cond}", t.name);
                let rows = self.query_rows(&sql, &sql, std::slice::from_ref(&ids))?;
                Ok((t.name.to_string(), rows.first().map_or(0, |r| int(&r[0]))))
            })
            .collect()
    }
}

/// One reader's access rules (see [`Store::read_rules`]).
#[derive(Debug, Clone, Default)]
pub struct ReadRules {
    admin: bool,
    /// Files (every version) the reader may not read.
    forbidden: BTreeSet<i64>,
    /// Restricted files the reader may read: the datasets holding them,
    /// each with its projects.
    restricted: BTreeMap<i64, Vec<(String, Vec<String>)>>,
}

impl ReadRules {
    /// Whether the reader may read rows or bytes of this raw file.
    pub fn may_read(&self, file_id: i64) -> bool {
        !self.forbidden.contains(&file_id)
    }

    /// The files the reader may not read (for `exclude_file_ids`).
    pub fn forbidden_ids(&self) -> Vec<i64> {
        self.forbidden.iter().copied().collect()
    }

    /// True when no file is restricted to this reader: nothing to filter.
    pub fn nothing_forbidden(&self) -> bool {
        self.forbidden.is_empty()
    }

    /// True when no file at all is restricted (public data only): nothing
    /// to filter and nothing to audit.
    pub fn nothing_restricted(&self) -> bool {
        self.forbidden.is_empty() && self.restricted.is_empty()
    }

    /// Whether the reader is an admin.
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// The restricted datasets a read of these files touches (sorted,
    /// unique): what an audit event names. Public files add nothing.
    pub fn restricted_datasets(&self, file_ids: impl IntoIterator<Item = i64>) -> Vec<String> {
        let mut out = BTreeSet::new();
        for id in file_ids {
            if let Some(ds) = self.restricted.get(&id) {
                out.extend(ds.iter().map(|(n, _)| n.clone()));
            }
        }
        out.into_iter().collect()
    }

    /// The projects that what is derived from these files must stay
    /// restricted to, or None when every file read is public. A derived
    /// result may only be read by whoever could read every input, and a
    /// dataset is readable by a member of any of its projects, so the
    /// restriction is the intersection, over the restricted files read, of
    /// the projects allowed to read each one; an empty intersection leaves
    /// the result to admins (fail closed: someone in both projects of two
    /// disjoint inputs asks an admin).
    pub fn restriction_projects(
        &self,
        file_ids: impl IntoIterator<Item = i64>,
    ) -> Option<Vec<String>> {
        let mut out: Option<BTreeSet<String>> = None;
        for id in file_ids {
            if let Some(ds) = self.restricted.get(&id) {
                let allowed: BTreeSet<String> =
                    ds.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
                out = Some(match out {
                    None => allowed,
                    Some(prev) => prev.intersection(&allowed).cloned().collect(),
                });
            }
        }
        out.map(|s| s.into_iter().collect())
    }
}
