//! The Python `kubernetes` client (installed by scripts/install-deps --test) lists, pages and
//! watches against a real `rkube server`.

use std::path::Path;

use rkube_testkit::Server;

#[test]
fn python_client_lists_and_watches() {
    let s = Server::start(Path::new(env!("CARGO_BIN_EXE_rkube")));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_list_watch.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&s.kubeconfig)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "python client failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("python client ok"));
}
