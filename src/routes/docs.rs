//! API documentation: `/openapi.json`, ReDoc at `/redoc` and Swagger UI at `/docs`. Both UIs
//! are vendored (`src/assets/`) and served from here, so they work without internet access.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;
use utoipa_redoc::Redoc;

use crate::openapi::ApiDoc;
use crate::routes::RouteExt;

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc.standalone.js");
const SWAGGER_JS: &[u8] = include_bytes!("../assets/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../assets/swagger-ui.css");

const REDOC_HTML: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Courier API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="redoc-container"></div>
<script src="/redoc/redoc.standalone.js"></script>
<script>Redoc.init($spec, $config, document.getElementById("redoc-container"));</script>
</body></html>"##;

const SWAGGER_HTML: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Courier API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"##;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let redoc_page = Redoc::new(ApiDoc::openapi())
        .custom_html(REDOC_HTML)
        .to_html();
    cfg.at("/openapi.json", web::get().to(openapi_json))
        .at("/redoc", web::get().to(move || html(redoc_page.clone())))
        .at(
            "/redoc/redoc.standalone.js",
            web::get().to(|| asset(REDOC_JS, "text/javascript")),
        )
        .at("/docs", web::get().to(|| html(SWAGGER_HTML.to_owned())))
        .at(
            "/docs/swagger-ui-bundle.js",
            web::get().to(|| asset(SWAGGER_JS, "text/javascript")),
        )
        .at(
            "/docs/swagger-ui.css",
            web::get().to(|| asset(SWAGGER_CSS, "text/css")),
        );
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

async fn html(page: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

async fn asset(bytes: &'static [u8], content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(bytes)
}
