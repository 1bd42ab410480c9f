//! `sqlx::migrate!` embeds the migration files at compile time, but stable Rust cannot tell
//! cargo which files a macro read: without this, a new migration file would not rebuild the
//! store and the binary would ship without it.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
