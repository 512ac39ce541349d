//! Glance (image API v2): images by name or ID.

use serde::Deserialize;

use super::error::CloudError;
use super::http::{Request, ServiceClient, next_query, seg};
use super::json::null_default;
use super::network::looks_like_uuid;

/// An image.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Image {
    /// Its ID.
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `active`, `queued`, `deactivated`, …
    pub status: String,
    /// Smallest root disk it needs, GiB.
    #[serde(default, deserialize_with = "null_default")]
    pub min_disk: u64,
    /// Smallest memory it needs, MiB.
    #[serde(default, deserialize_with = "null_default")]
    pub min_ram: u64,
    /// `public`, `private`, `shared`, `community`.
    #[serde(default)]
    pub visibility: Option<String>,
}

/// The Glance API.
#[derive(Clone, Debug)]
pub struct Images {
    client: ServiceClient,
}

impl Images {
    /// Glance over `client`.
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// An image by ID or by name. Among several images of one name, the single `active` one
    /// is taken; otherwise the name is ambiguous.
    pub async fn image(&self, name_or_id: &str) -> Result<Image, CloudError> {
        if looks_like_uuid(name_or_id) {
            match self
                .client
                .send(Request::get(format!("/images/{}", seg(name_or_id))))
                .await
            {
                Ok(resp) => return resp.json(),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let mut found = self.list_by_name(name_or_id).await?;
        if found.len() > 1 {
            found.retain(|i| i.status == "active");
        }
        match found.len() {
            0 => Err(CloudError::NotFound {
                kind: "image",
                name: name_or_id.to_string(),
            }),
            1 => Ok(found.remove(0)),
            count => Err(CloudError::Ambiguous {
                kind: "image",
                name: name_or_id.to_string(),
                count,
            }),
        }
    }

    /// Images with exactly this name, following pagination.
    pub async fn list_by_name(&self, name: &str) -> Result<Vec<Image>, CloudError> {
        #[derive(Deserialize)]
        struct Page {
            images: Vec<Image>,
            #[serde(default)]
            next: Option<String>,
        }
        let mut params = vec![("name".to_string(), name.to_string())];
        let mut out = Vec::new();
        for _ in 0..1000 {
            let mut req = Request::get("/images");
            req.query = params;
            let page: Page = self.client.get_json(req).await?;
            out.extend(page.images.into_iter().filter(|i| i.name == name));
            match page.next {
                Some(link) => params = next_query(&link),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_from_api_reference_shape() {
        // Abridged from the Glance API reference "Show image".
        let i: Image = serde_json::from_value(serde_json::json!({
            "status": "active", "name": "cirros-0.3.2-x86_64-disk", "tags": [],
            "container_format": "bare", "disk_format": "qcow2", "visibility": "public",
            "min_disk": 0, "min_ram": 0, "id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27",
            "size": 13167616, "protected": false, "self": "/v2/images/1bea47ed"
        }))
        .unwrap();
        assert_eq!(i.name, "cirros-0.3.2-x86_64-disk");
        assert_eq!(i.status, "active");
        assert_eq!(i.visibility.as_deref(), Some("public"));
    }
}
