//! GSM modems (短信猫): the SMS PDU codec and the 7-bit alphabet, pure; the
//! AT engine and drivers build on them.

pub mod at;
pub mod concat;
pub mod driver;
pub mod gsm7;
pub mod pdu;
pub mod port;
pub mod replies;
