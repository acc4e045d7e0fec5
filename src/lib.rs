//! callpop: caller-ID screen-pop, call recording and SMS for small call centers.
//!
//! Devices produce events, one call engine turns them into calls, consumers
//! (store, recorder, screen-pop, SMS) react; see `../shared/DESIGN.md`.

pub mod access;
pub mod auth;
pub mod calls;
pub mod config;
pub mod crm;
pub mod customers;
pub mod demo;
pub mod devices;
pub mod dial_plan;
pub mod domain;
pub mod dsp;
pub mod engine;
pub mod event;
pub mod lines;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod phone;
pub mod pop;
pub mod recording;
pub mod reports;
pub mod sheets;
pub mod sim;
pub mod sms;
pub mod store;
pub mod web;
pub mod webhooks;
pub mod workorder;
