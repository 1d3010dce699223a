//! Consumer-portal credentials: one-time portal links (`cpl_` + 256 random bits) and the
//! portal sessions (`cps_` + 256 random bits) they open. Both are stored only as SHA-256,
//! like API keys. A portal session grants [`Scope::Application`] of the link's application
//! with a [`PortalGrant`] (which the HTTP layer limits to the portal's routes, and to reads
//! when the link was read-only). It is a bearer token the portal keeps in memory, never a
//! cookie, so it works in a cross-site iframe whatever the browser does with third-party
//! cookies, and no other site can make a browser send it.
//!
//! Must never happen: a link opened twice; a portal session accepted more than
//! [`super::CACHE_TTL`] after its link was revoked or its application deleted, or after it expired;
//! a portal session turned into a browser (cookie) session or into any other grant.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use super::{Grant, KeyStore, PortalGrant, Scope, hash_token, random_secret};
use crate::db::portal_links::{self, NewPortalLink, PortalLinkRow, PortalSessionRow};
use crate::db::sessions;

const LINK_PREFIX: &str = "cpl_";
const SESSION_PREFIX: &str = "cps_";

fn has_shape(token: &str, prefix: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|s| {
        s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Whether a token has the shape of a portal link token.
pub fn looks_like_link(token: &str) -> bool {
    has_shape(token, LINK_PREFIX)
}

/// Whether a bearer token has the shape of a portal session token.
pub fn looks_like_session(token: &str) -> bool {
    has_shape(token, SESSION_PREFIX)
}

fn grant_of(row: &PortalSessionRow) -> Grant {
    Grant {
        scope: Scope::Application(row.application_id),
        key_id: None,
        session_expires_at: Some(row.expires_at),
        portal: Some(PortalGrant {
            link_id: row.link_id,
            read_only: row.read_only,
        }),
    }
}

impl KeyStore {
    /// Creates a link to `application_id`'s portal, usable once within `ttl`; returns it and
    /// its token (shown once, never stored).
    pub async fn create_portal_link(
        &self,
        application_id: Uuid,
        read_only: bool,
        ttl: Duration,
        created_by: Option<Uuid>,
    ) -> Result<(PortalLinkRow, String), sqlx::Error> {
        let token = format!("{LINK_PREFIX}{}", random_secret());
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
        let row = portal_links::insert(
            &self.pool,
            &NewPortalLink {
                id: Uuid::now_v7(),
                application_id,
                token_hash: &hash_token(&token),
                read_only,
                created_by,
                expires_at: Utc::now() + ttl,
            },
        )
        .await?;
        // Long-expired links go a few at a time, whenever a link is made.
        portal_links::delete_expired(&self.pool, 100).await?;
        Ok((row, token))
    }

    /// Opens a portal link (once): returns the session token it grants and the grant, or
    /// `None` when the link is unknown, used, expired or revoked.
    pub async fn open_portal_link(
        &self,
        link_token: &str,
    ) -> Result<Option<(String, Grant)>, sqlx::Error> {
        if !looks_like_link(link_token) {
            return Ok(None);
        }
        let session = format!("{SESSION_PREFIX}{}", random_secret());
        let session_hash = hash_token(&session);
        let opened = portal_links::open(&self.pool, &hash_token(link_token), &session_hash).await?;
        Ok(opened.map(|row| {
            let grant = grant_of(&row);
            self.remember(session_hash, grant);
            (session, grant)
        }))
    }

    /// Who a portal session token is, while it and its link are live.
    pub async fn authenticate_portal(&self, token: &str) -> Result<Option<Grant>, sqlx::Error> {
        if !looks_like_session(token) {
            return Ok(None);
        }
        let hash = hash_token(token);
        if let Some(grant) = self.cached(&hash)
            && grant.portal.is_some()
            && grant.session_expires_at.is_some_and(|t| t > Utc::now())
        {
            return Ok(Some(grant));
        }
        let Some(row) = portal_links::find_session(&self.pool, &hash).await? else {
            return Ok(None);
        };
        let grant = grant_of(&row);
        self.remember(hash, grant);
        Ok(Some(grant))
    }

    /// Revokes link `id` of `application_id` and ends its session (on this node at once, on
    /// the others within [`super::CACHE_TTL`]); false when there was no such link.
    pub async fn revoke_portal_link(
        &self,
        application_id: Uuid,
        id: Uuid,
    ) -> Result<bool, sqlx::Error> {
        let done = portal_links::revoke(&self.pool, application_id, id).await?;
        self.forget_portal_links(&[id]);
        Ok(done)
    }

    /// Drops this node's cached portal sessions of these links (after they were revoked in
    /// a transaction of the caller's, e.g. deleting an application).
    pub fn forget_portal_links(&self, ids: &[Uuid]) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.grant.portal.is_none_or(|p| !ids.contains(&p.link_id)));
        }
    }

    /// Ends a portal session (sign-out); false when there was none.
    pub async fn end_portal_session(&self, token: &str) -> Result<bool, sqlx::Error> {
        if !looks_like_session(token) {
            return Ok(false);
        }
        let hash = hash_token(token);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&hash);
        }
        sessions::delete(&self.pool, &hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_and_session_tokens_are_told_apart_by_shape() {
        let link = format!("{LINK_PREFIX}{}", random_secret());
        let session = format!("{SESSION_PREFIX}{}", random_secret());
        assert!(looks_like_link(&link) && !looks_like_session(&link));
        assert!(looks_like_session(&session) && !looks_like_link(&session));
        assert!(!super::super::looks_like_key(&session));
        for bad in ["", "cpl_", "cps_short", &link[..link.len() - 1]] {
            assert!(!looks_like_link(bad) && !looks_like_session(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_portal_grant_is_application_scoped_and_carries_its_link() {
        let row = PortalSessionRow {
            link_id: Uuid::now_v7(),
            application_id: Uuid::now_v7(),
            read_only: true,
            expires_at: Utc::now(),
        };
        let grant = grant_of(&row);
        assert_eq!(grant.scope, Scope::Application(row.application_id));
        assert_eq!(grant.key_id, None);
        assert_eq!(
            grant.portal,
            Some(PortalGrant {
                link_id: row.link_id,
                read_only: true
            })
        );
    }
}
