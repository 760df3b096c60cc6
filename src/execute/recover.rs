//! Lost answers: a create went out and no answer came back, so the users may or
//! may not exist. Resending blindly could create someone twice; instead, look
//! the usernames up (SOQL, chunked) and resend only the ones truly absent.

use std::collections::HashMap;

use super::batch::ItemFate;
use crate::salesforce::{Client, SfError, SfUser};

/// Splits `usernames` (item, username) by what a lookup found: present users
/// become `Recovered` with their Id, the rest `Resend`. Case-insensitive, as
/// Salesforce usernames are.
pub fn split_found(usernames: &[(usize, String)], found: &[SfUser]) -> Vec<(usize, ItemFate)> {
    let by_name: HashMap<String, &str> = found
        .iter()
        .map(|u| (u.username.to_lowercase(), &*u.id))
        .collect();
    usernames
        .iter()
        .map(|(item, name)| {
            let fate = match by_name.get(&name.to_lowercase()) {
                Some(id) => ItemFate::Recovered((*id).to_owned()),
                None => ItemFate::Resend,
            };
            (*item, fate)
        })
        .collect()
}

/// Looks the usernames up and decides each item's fate.
pub async fn recover(
    client: &Client,
    usernames: &[(usize, String)],
    match_keys: &[String],
) -> Result<Vec<(usize, ItemFate)>, SfError> {
    let names: Vec<String> = usernames.iter().map(|(_, n)| n.clone()).collect();
    let found = client.find_users_by_username(&names, match_keys).await?;
    Ok(split_found(usernames, &found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> SfUser {
        SfUser {
            id: id.into(),
            username: name.into(),
            email: None,
            is_active: true,
            keys: Box::new([]),
        }
    }

    #[test]
    fn found_users_are_recovered_and_the_rest_resent() {
        let asked = vec![
            (3, "ada@x.com".to_owned()),
            (7, "Bob@X.com".to_owned()),
            (9, "cy@x.com".to_owned()),
        ];
        let found = [
            user("005A", "ada@x.com"),
            user("005B", "bob@x.com"),
            user("005Z", "other@x.com"),
        ];
        assert_eq!(
            split_found(&asked, &found),
            vec![
                (3, ItemFate::Recovered("005A".into())),
                (7, ItemFate::Recovered("005B".into())),
                (9, ItemFate::Resend)
            ]
        );
    }
}
