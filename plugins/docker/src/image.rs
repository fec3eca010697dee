//! Making sure a container's image is there: `never` requires it locally, `missing`
//! pulls it only when absent, `always` pulls it every time.

use bollard::query_parameters::CreateImageOptions;
use dagu_plugin_sdk::{RunContext, RunError};
use futures::StreamExt;

use crate::config::Pull;
use crate::engine::{Engine, short, status};

/// `image` split into what the pull API wants: the repository and a tag or digest
/// (`latest` when none is written, since an empty tag would pull every tag).
pub(crate) fn reference(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (
            image[..last_slash + i].to_string(),
            image[last_slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// Applies the pull policy for `image`.
pub(crate) async fn ensure(
    engine: &Engine,
    image: &str,
    pull: Pull,
    platform: Option<&str>,
    credentials: Option<bollard::auth::DockerCredentials>,
    ctx: &RunContext,
) -> Result<(), RunError> {
    let client = engine.client().await?;
    let present = match client.inspect_image(image).await {
        Ok(_) => true,
        Err(e) if status(&e) == Some(404) => false,
        Err(e) => return Err(engine.error(&format!("inspecting image {image}"), e)),
    };
    match pull {
        Pull::Never if !present => {
            return Err(RunError::failed(
                1,
                format!(
                    "image {image} is not on the Docker engine and pull is 'never': pull or build it first (docker pull {image}), or set pull: missing"
                ),
            ));
        }
        Pull::Never => return Ok(()),
        Pull::Missing if present => return Ok(()),
        _ => {}
    }
    let (repo, tag) = reference(image);
    ctx.stderr(&format!("pulling image {image}"));
    let options = CreateImageOptions {
        from_image: Some(repo),
        tag: Some(tag),
        platform: platform.unwrap_or_default().to_string(),
        ..Default::default()
    };
    let mut progress = client.create_image(Some(options), None, credentials);
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(pull_failed(image, &detail));
                }
            }
            Err(e) => {
                let text = short(&e);
                return Err(match status(&e) {
                    Some(_) => pull_failed(image, &text),
                    None if matches!(e, bollard::errors::Error::DockerStreamError { .. }) => {
                        pull_failed(image, &text)
                    }
                    None => engine.error(&format!("pulling image {image}"), e),
                });
            }
        }
    }
    Ok(())
}

fn pull_failed(image: &str, why: &str) -> RunError {
    RunError::failed(
        1,
        format!(
            "pulling image {image} failed: {why} (check the image name, the registry's reachability and credentials: auth, registryAuths or docker login; use pull: never for local images)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::reference;

    #[test]
    fn references_split_into_repository_and_tag() {
        let r = |s: &str| {
            let (a, b) = reference(s);
            (a, b)
        };
        assert_eq!(r("alpine"), ("alpine".into(), "latest".into()));
        assert_eq!(r("alpine:3.20"), ("alpine".into(), "3.20".into()));
        assert_eq!(
            r("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(
            r("localhost:5000/app:v1"),
            ("localhost:5000/app".into(), "v1".into())
        );
        assert_eq!(r("x/y@sha256:abc"), ("x/y".into(), "sha256:abc".into()));
    }
}
