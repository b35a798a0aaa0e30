//! Deterministic ids: the command id of a client's retry, and the ids of the things a command
//! creates, so that a retried request is a no-op in the store too.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The stable command id of a client's retry: derived from the actor, the `Idempotency-Key`
/// and the request's fingerprint, so a request retried after a lost answer is answered from
/// the store as the first time, and another request sent with a used key (once its stored
/// answer is gone) is never mistaken for the first one.
pub fn command_id_for(actor: &str, idempotency_key: &str, request_hash: &str) -> Uuid {
    derive_uuid(&["diario-command", actor, idempotency_key, request_hash])
}

/// A deterministic id for a new thing (case, entry, request, failure) created by a command.
pub fn derived_id(command_id: Uuid, what: &str) -> Uuid {
    derive_uuid(&["diario-id", &command_id.to_string(), what])
}

fn derive_uuid(parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_stable_per_actor_key_and_request() {
        let a = command_id_for("RSSMRA85T10A562S", "k1", "r1");
        assert_eq!(a, command_id_for("RSSMRA85T10A562S", "k1", "r1"));
        assert_ne!(a, command_id_for("RSSMRA85T10A562S", "k2", "r1"));
        assert_ne!(a, command_id_for("BNCLRA80A41F205G", "k1", "r1"));
        assert_ne!(a, command_id_for("RSSMRA85T10A562S", "k1", "r2"));
        assert_ne!(derived_id(a, "entry"), derived_id(a, "request"));
    }
}
