//! `POST /v1/accounts`, `GET /v1/accounts`, `POST /v1/tokens` and
//! `DELETE /v1/accounts/{id}/tokens`: what only the admin key may do.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::Duration;
use sea_orm::EntityTrait;
use sigma_shared::command::{AccountCommand, Command};
use sigma_shared::event::Event;
use sigma_shared::ids::AccountId;

use super::auth::{Admin, Scope};
use super::body::JsonBody;
use super::error::{ApiError, ErrorBody};
use super::views::{AccountList, AccountView, CreateAccount, CreateToken, Page, TokenView};
use super::AppState;
use crate::db;

const MAX_TOKEN_TTL_SECONDS: u32 = 31 * 86_400;

/// Create an account.
#[utoipa::path(
    tag = "accounts",
    security(("admin_key" = [])),
    request_body = CreateAccount,
    responses(
        (status = 201, body = AccountView),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/v1/accounts")]
pub async fn create_account(
    _: Admin,
    state: web::Data<AppState>,
    body: JsonBody<CreateAccount>,
) -> Result<HttpResponse, ApiError> {
    let account_id = AccountId::generate();
    let command = Command::account(
        account_id,
        AccountCommand::Create {
            name: body.into_inner().name,
        },
    );
    state.bus.submit(command).await??;
    let row = db::accounts::Entity::find_by_id(account_id.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a created account is missing from the read model"))?;
    Ok(HttpResponse::Created().json(AccountView::of(row)))
}

/// List the accounts, oldest id first (the dashboard's account picker).
#[utoipa::path(
    tag = "accounts",
    security(("admin_key" = [])),
    params(Page),
    responses(
        (status = 200, body = AccountList),
        (status = 400, body = ErrorBody, description = "A limit out of 1–1000 (`bad_query`)"),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody),
    )
)]
#[get("/v1/accounts")]
pub async fn list_accounts(
    _: Admin,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let rows = page
        .of(db::accounts::Entity::find(), db::accounts::Column::Id)?
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(AccountList {
        data: rows.into_iter().map(AccountView::of).collect(),
    }))
}

/// Mint a token for an account.
#[utoipa::path(
    tag = "accounts",
    security(("admin_key" = [])),
    request_body = CreateToken,
    responses(
        (status = 201, body = TokenView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such account"),
        (status = 422, body = ErrorBody),
    )
)]
#[post("/v1/tokens")]
pub async fn create_token(
    _: Admin,
    state: web::Data<AppState>,
    body: JsonBody<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let scopes = match &request.scopes {
        None => Scope::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                Scope::parse(name).ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid_scope",
                        format!(
                            "unknown scope `{name}`; scopes are {}",
                            Scope::ALL.map(Scope::as_str).join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let ttl = request.ttl_seconds.unwrap_or(3_600);
    if !(1..=MAX_TOKEN_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("ttl_seconds must be between 1 and {MAX_TOKEN_TTL_SECONDS}"),
        ));
    }
    let account = db::accounts::Entity::find_by_id(request.account_id.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    // This process may have heard of a revocation its read model has not taken in yet.
    let generation = u32::try_from(account.token_generation)
        .unwrap_or(u32::MAX)
        .max(state.auth.revocations.generation(&request.account_id));
    let (token, expires_at) = state.auth.keyring.mint(
        request.account_id,
        &scopes,
        Duration::seconds(ttl.into()),
        generation,
    );
    Ok(HttpResponse::Created().json(TokenView { token, expires_at }))
}

/// Revoke every token of an account minted so far. The next request with one of them is
/// refused (401 `token_revoked`) by this process, and by the others as soon as the event
/// reaches them; tokens minted afterwards work.
#[utoipa::path(
    tag = "accounts",
    security(("admin_key" = [])),
    params(("account_id" = String, Path, description = "The account (`acc_…`)")),
    responses(
        (status = 204, description = "The account's tokens are revoked"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such account"),
        (status = 429, body = ErrorBody),
    )
)]
#[delete("/v1/accounts/{account_id}/tokens")]
pub async fn revoke_tokens(
    _: Admin,
    state: web::Data<AppState>,
    account_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account_id: AccountId = account_id
        .parse()
        .map_err(|_| ApiError::not_found("account"))?;
    let events = state
        .bus
        .submit(Command::account(account_id, AccountCommand::RevokeTokens))
        .await??;
    for envelope in &events {
        if let Event::TokensRevoked { generation } = envelope.event {
            state.auth.revocations.raise(account_id, generation);
        }
    }
    Ok(HttpResponse::NoContent().finish())
}
