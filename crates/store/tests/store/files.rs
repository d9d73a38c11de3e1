//! The files the store creates: a data directory and database only their owner can read (they
//! hold message bodies and key hashes).

use smsgate_testkit::store::message;

#[cfg(unix)]
#[tokio::test]
async fn a_new_data_directory_and_database_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!("sqlite://{}/smsgate.db", data.display());
    let store = smsgate_store::open(&url).await.unwrap();
    store
        .insert_messages(vec![message("+4915112345678", 1)])
        .await
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the directory it created");
    for name in ["smsgate.db", "smsgate.db-wal", "smsgate.db-shm"] {
        let p = data.join(name);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{name}");
        }
    }
    assert!(data.join("smsgate.db").exists());
    // A directory that existed keeps its mode: it is the operator's.
    let before = mode(dir.path());
    let url = format!("sqlite://{}/other.db", dir.path().display());
    let _other = smsgate_store::open(&url).await.unwrap();
    assert_eq!(mode(dir.path()), before);
    assert_eq!(mode(&dir.path().join("other.db")), 0o600);
}
