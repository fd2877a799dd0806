//! The built assets change names with their contents (`assets/index-<hash>.js`), and a release
//! build embeds whatever `web/dist` holds: rebuild when anything in it changes, new files too.
fn main() {
    println!("cargo:rerun-if-changed=web/dist");
}
