//! The end-of-run check that no acknowledged write was lost, asked of every server in turn
//! (each after a `sync`, so it has caught up with its leader): every acknowledged create
//! exists, and every own key holds its last acknowledged value or a later attempted one.

use super::ensemble::CLIENT_PORT;
use super::load::{connect_client, creates_parent, key_path, LoadOptions, Written, KEYS_PER_SESSION};
use super::network::member_address;
use super::report::Verification;
use std::collections::BTreeSet;

/// Examples of lost writes kept in the report.
const EXAMPLES_MAX: usize = 10;

/// Reads back everything in `written` from each server of `ids`.
pub async fn verify(ids: &[u8], written: &[Written], options: &LoadOptions) -> Result<Verification, String> {
    let mut verification = Verification::default();
    for &id in ids {
        let address = format!("{}:{CLIENT_PORT}", member_address(id));
        let client = connect_client(&address, options).await.map_err(|e| format!("verify via server {id}: {e}"))?;
        client.sync("/soak").await.map_err(|e| format!("sync via server {id}: {e}"))?;
        for session in written {
            check_session(&client, id, session, &mut verification).await?;
        }
        verification.servers_checked += 1;
    }
    Ok(verification)
}

async fn check_session(
    client: &zookeeper_client::Client,
    id: u8,
    session: &Written,
    verification: &mut Verification,
) -> Result<(), String> {
    let parent = creates_parent(session.session);
    let children: BTreeSet<String> = client
        .list_children(&parent)
        .await
        .map_err(|e| format!("list {parent} via server {id}: {e}"))?
        .into_iter()
        .collect();
    for n in &session.creates_acknowledged {
        verification.creates_checked += 1;
        if !children.contains(&format!("n{n}")) {
            verification.creates_lost += 1;
            example(verification, format!("server {id}: acknowledged create {parent}/n{n} is missing"));
        }
    }
    for key in 0..KEYS_PER_SESSION {
        let path = key_path(session.session, key);
        let (data, _) = client.get_data(&path).await.map_err(|e| format!("read {path} via server {id}: {e}"))?;
        let value: u64 = String::from_utf8_lossy(&data).parse().map_err(|_| format!("{path} holds {data:?}"))?;
        verification.values_checked += 1;
        let (acknowledged, attempted) = (session.values_acknowledged[key], session.values_attempted[key]);
        if value < acknowledged {
            verification.values_lost += 1;
            example(verification, format!("server {id}: {path} = {value}, but {acknowledged} was acknowledged"));
        } else if value > attempted {
            verification.values_invented += 1;
            example(verification, format!("server {id}: {path} = {value}, never written (highest sent: {attempted})"));
        }
    }
    Ok(())
}

fn example(verification: &mut Verification, message: String) {
    if verification.examples.len() < EXAMPLES_MAX {
        verification.examples.push(message);
    }
}
