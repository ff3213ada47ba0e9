//! Serializing notify runs: keepalived starts notify scripts concurrently and in no
//! guaranteed order. Each run takes a ticket (a sequence number, under a file lock), then
//! waits for the run lock; a run whose ticket is no longer the newest gives up, so the
//! latest transition wins.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct Serializer {
    seq_path: PathBuf,
    lock_path: PathBuf,
}

/// A held run lock plus this run's sequence number.
pub struct Ticket {
    seq_path: PathBuf,
    number: u64,
    _lock: File,
}

fn open(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

fn read_seq(file: &mut File) -> anyhow::Result<u64> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    Ok(text.trim().parse().unwrap_or(0))
}

impl Serializer {
    pub fn new(state_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        Ok(Serializer {
            seq_path: state_dir.join("notify.seq"),
            lock_path: state_dir.join("notify.lock"),
        })
    }

    /// Take the next number, then wait (bounded by the caller's own deadline) for the run lock.
    pub fn enter(&self) -> anyhow::Result<Ticket> {
        let number = {
            let mut f = open(&self.seq_path)?;
            f.lock().context("locking the notify sequence")?;
            let n = read_seq(&mut f)? + 1;
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            write!(f, "{n}")?;
            f.sync_all()?;
            n
        };
        let lock = open(&self.lock_path)?;
        lock.lock().context("waiting for the notify run lock")?;
        Ok(Ticket {
            seq_path: self.seq_path.clone(),
            number,
            _lock: lock,
        })
    }
}

impl Ticket {
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Whether a later transition has taken a ticket since.
    pub fn superseded(&self) -> anyhow::Result<bool> {
        let mut f = open(&self.seq_path)?;
        Ok(read_seq(&mut f)? > self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_ticket_supersedes_an_earlier_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Serializer::new(dir.path()).expect("serializer");
        let first = s.enter().expect("first");
        assert!(!first.superseded().expect("check"));
        let dir2 = dir.path().to_path_buf();
        // The second run waits for the lock in another thread; its ticket is taken at once.
        let handle = std::thread::spawn(move || {
            Serializer::new(&dir2)
                .expect("s")
                .enter()
                .map(|t| t.number())
        });
        let mut waited = 0;
        while !first.superseded().expect("check") && waited < 200 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            first.superseded().expect("check"),
            "the second ticket should supersede the first"
        );
        drop(first);
        assert_eq!(handle.join().expect("join").expect("second"), 2);
    }
}
