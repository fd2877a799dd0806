//! A release build embeds whatever `web/dist` holds, and the built assets change names with
//! their contents (`assets/index-<hash>.js`): rebuild when anything in it changes, new files
//! too. A debug build reads `web/dist` from disk at run time, so it need not rebuild (and would
//! otherwise rebuild every crate above this one whenever the page is rebuilt).
fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=web/dist");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
