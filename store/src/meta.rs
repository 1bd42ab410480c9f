//! `MetaStore`: reachability, the backend's name, and the `meta` key/value table.

use async_trait::async_trait;
use scaivault_domain::Result;
use scaivault_domain::store::MetaStore;

use crate::dialect::{Dialect, Statement};
use crate::sql_store::{SqlStore, commit};

#[async_trait]
impl<D: Dialect> MetaStore for SqlStore<D> {
    async fn ping(&self) -> Result<()> {
        sqlx::query::<D>("SELECT 1").run(self.on_pool()).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        D::BACKEND
    }

    async fn set_meta_if_absent(&self, key: &str, value: &str) -> Result<bool> {
        let set = sqlx::query::<D>(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .arg(key)
        .arg(value)
        .run(self.on_pool())
        .await?;
        Ok(set == 1)
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let value: Option<(String,)> = sqlx::query::<D>("SELECT value FROM meta WHERE key = $1")
            .arg(key)
            .row(self.on_pool())
            .await?;
        Ok(value.map(|(value,)| value))
    }

    async fn update_meta(&self, set: &[(&str, &str)], remove: &[&str]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (key, value) in set {
            sqlx::query::<D>(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .arg(*key)
            .arg(*value)
            .run(D::on_conn(&mut tx))
            .await?;
        }
        for key in remove {
            sqlx::query::<D>("DELETE FROM meta WHERE key = $1")
                .arg(*key)
                .run(D::on_conn(&mut tx))
                .await?;
        }
        commit(tx).await
    }
}
