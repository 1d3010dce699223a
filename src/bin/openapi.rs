//! Prints Courier's OpenAPI document as pretty JSON, without a database or a server, so the
//! dashboard's types can be generated from it (`frontend/`: `npm run gen:api`).

use utoipa::OpenApi;

fn main() -> Result<(), serde_json::Error> {
    let doc = courier::openapi::ApiDoc::openapi();
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
