//! Single files of `allowed_paths`: a host file mapped to a guest path appears in a virtual
//! directory at the guest path's parent, which holds only the files mapped there. The
//! guest can open, stat and (unless `ro:`) write those files, and nothing else: no other
//! name resolves, and the directory itself cannot be changed.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity, WasiDir};
use wasi_common::file::{FdFlags, FileType, Filestat, OFlags};
use wasi_common::snapshots::preview_1::types::Errno;
use wasi_common::{Error, ErrorExt, SystemTimeSpec};
use xtism_manifest::PathMapping;

use super::dirs::{opens_for_change, ordinary};
use super::readonly::ReadOnlyFile;
use super::split_guest;

/// One mapped file: the host directory holding it, its host name, and whether it is
/// read-only.
struct MappedFile {
    parent: wasi_common::sync::dir::Dir,
    host_name: String,
    read_only: bool,
}

/// A virtual directory of mapped files, by guest name.
pub(super) struct FileDir {
    files: Arc<BTreeMap<String, MappedFile>>,
}

/// The virtual directories of every single-file mapping, by guest directory.
#[derive(Default)]
pub(super) struct FileDirs(BTreeMap<PathBuf, BTreeMap<String, MappedFile>>);

impl FileDirs {
    /// Adds the file `host_name` of `parent`, mapped as `mapping` says.
    pub(super) fn add(
        &mut self,
        mapping: &PathMapping,
        parent: cap_std::fs::Dir,
        host_name: String,
    ) -> Result<(), crate::XtismError> {
        let (dir, name) = split_guest(&mapping.guest)?;
        let file = MappedFile {
            parent: wasi_common::sync::dir::Dir::from_cap_std(parent),
            host_name,
            read_only: mapping.read_only,
        };
        self.0.entry(dir).or_default().insert(name, file);
        Ok(())
    }

    /// Each guest directory with its files.
    pub(super) fn into_dirs(self) -> impl Iterator<Item = (PathBuf, FileDir)> {
        self.0.into_iter().map(|(dir, files)| {
            (
                dir,
                FileDir {
                    files: Arc::new(files),
                },
            )
        })
    }
}

impl FileDir {
    /// The mapped file a guest path names; only a bare file name (or `./name`) does.
    fn file(&self, path: &str) -> Result<&MappedFile, Error> {
        let name = path.strip_prefix("./").unwrap_or(path);
        self.files
            .get(name)
            .ok_or_else(|| Error::not_found().context("only the mapped files are here"))
    }

    fn refused() -> Error {
        Error::perm().context("a directory of mapped files cannot be changed")
    }
}

#[async_trait::async_trait]
impl WasiDir for FileDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn open_file(
        &self,
        symlink_follow: bool,
        path: &str,
        oflags: OFlags,
        read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, Error> {
        if matches!(path, "." | "" | "./") {
            if write || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE) {
                return Err(Errno::Isdir.into());
            }
            return Ok(OpenResult::Dir(Box::new(FileDir {
                files: Arc::clone(&self.files),
            })));
        }
        let file = self.file(path)?;
        if oflags.contains(OFlags::DIRECTORY) {
            return Err(Error::not_dir());
        }
        if file.read_only && opens_for_change(write, oflags, fdflags) {
            return Err(Error::not_supported().context("the file is mapped read-only"));
        }
        if let Ok(stat) = file
            .parent
            .get_path_filestat(&file.host_name, symlink_follow)
            .await
        {
            ordinary(stat.filetype)?;
        }
        let opened = file
            .parent
            .open_file(
                symlink_follow,
                &file.host_name,
                oflags,
                read,
                write,
                fdflags,
            )
            .await?;
        match opened {
            OpenResult::File(f) if file.read_only => {
                Ok(OpenResult::File(Box::new(ReadOnlyFile::new(f))))
            }
            OpenResult::File(f) => Ok(OpenResult::File(f)),
            OpenResult::Dir(_) => Err(Error::not_dir().context("the mapped file is a directory")),
        }
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        let mut entries = vec![
            (".".to_owned(), FileType::Directory, 0),
            ("..".to_owned(), FileType::Directory, 0),
        ];
        for (name, file) in self.files.iter() {
            let stat = file.parent.get_path_filestat(&file.host_name, true).await?;
            entries.push((name.clone(), stat.filetype, stat.inode));
        }
        let start = usize::try_from(u64::from(cursor)).unwrap_or(usize::MAX);
        let listed: Vec<Result<ReaddirEntity, Error>> = entries
            .into_iter()
            .enumerate()
            .skip(start)
            .map(|(i, (name, filetype, inode))| {
                Ok(ReaddirEntity {
                    next: ReaddirCursor::from(i as u64 + 1),
                    inode,
                    name,
                    filetype,
                })
            })
            .collect();
        Ok(Box::new(listed.into_iter()))
    }

    async fn symlink(&self, _old_path: &str, _new_path: &str) -> Result<(), Error> {
        Err(Error::perm().context("plug-ins may not create symlinks"))
    }

    async fn create_dir(&self, _path: &str) -> Result<(), Error> {
        Err(FileDir::refused())
    }

    async fn remove_dir(&self, _path: &str) -> Result<(), Error> {
        Err(FileDir::refused())
    }

    async fn unlink_file(&self, _path: &str) -> Result<(), Error> {
        Err(FileDir::refused())
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        Ok(Filestat {
            device_id: 0,
            inode: 0,
            filetype: FileType::Directory,
            nlink: 1,
            size: 0,
            atim: None,
            mtim: None,
            ctim: None,
        })
    }

    async fn get_path_filestat(
        &self,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, Error> {
        let file = self.file(path)?;
        file.parent
            .get_path_filestat(&file.host_name, follow_symlinks)
            .await
    }

    async fn rename(
        &self,
        _path: &str,
        _dest_dir: &dyn WasiDir,
        _dest_path: &str,
    ) -> Result<(), Error> {
        Err(FileDir::refused())
    }

    async fn hard_link(
        &self,
        _path: &str,
        _target_dir: &dyn WasiDir,
        _target_path: &str,
    ) -> Result<(), Error> {
        Err(FileDir::refused())
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow_symlinks: bool,
    ) -> Result<(), Error> {
        let file = self.file(path)?;
        if file.read_only {
            return Err(Error::not_supported().context("the file is mapped read-only"));
        }
        file.parent
            .set_times(&file.host_name, atime, mtime, follow_symlinks)
            .await
    }
}
