//! `-D COMMAND NAME VALUE`: mosquitto's way of setting v5 properties, for CONNECT and PUBLISH.

use crate::Error;
use mqtt_proto::{MqttString, PayloadFormat, PublishProperties, TopicName};
use mqtt_tokio::Options;

/// One `-D`: the packet it is for, the property, its value(s).
type Entry<'a> = (&'a str, &'a str, &'a [String]);

/// The `-D` occurrences, which clap hands over as one flat list: COMMAND NAME VALUE, with a
/// KEY and a VALUE for `user-property`.
fn entries(flat: &[String]) -> Result<Vec<Entry<'_>>, Error> {
    let mut out = Vec::new();
    let mut rest = flat;
    while let [command, name, tail @ ..] = rest {
        let n = if name == "user-property" { 2 } else { 1 };
        if tail.len() < n {
            return Err(format!("-D {command} {name}: a value is missing").into());
        }
        out.push((command.as_str(), name.as_str(), &tail[..n]));
        rest = &tail[n..];
    }
    if !rest.is_empty() {
        return Err("-D takes COMMAND NAME VALUE".into());
    }
    Ok(out)
}

/// The one value of a property that is not a user property.
fn single<'a>(name: &str, values: &'a [String]) -> Result<&'a str, Error> {
    match values {
        [value] => Ok(value),
        _ => Err(format!("-D ... {name} takes one value").into()),
    }
}

fn number<T: std::str::FromStr>(name: &str, values: &[String]) -> Result<T, Error> {
    single(name, values)?
        .parse()
        .map_err(|_| format!("-D ... {name}: not a number in range").into())
}

fn pair(values: &[String]) -> Result<(&str, &str), Error> {
    match values {
        [key, value] => Ok((key, value)),
        _ => Err("-D ... user-property takes a KEY and a VALUE".into()),
    }
}

/// Applies the `connect` properties to the session configuration.
pub fn apply_connect(flat: &[String], options: &mut Options) -> Result<(), Error> {
    let config = &mut options.session;
    for (command, name, values) in entries(flat)? {
        if command != "connect" {
            check_command(command)?;
            continue;
        }
        match name {
            "session-expiry-interval" => config.session_expiry_interval = number(name, values)?,
            "receive-maximum" => config.receive_maximum = number(name, values)?,
            "maximum-packet-size" => config.maximum_packet_size = number(name, values)?,
            "topic-alias-maximum" => config.topic_alias_maximum = number(name, values)?,
            "request-response-information" => {
                config.request_response_information = number::<u8>(name, values)? != 0
            }
            "request-problem-information" => {
                config.request_problem_information = Some(number::<u8>(name, values)? != 0)
            }
            "user-property" => {
                let (key, value) = pair(values)?;
                config
                    .user_properties
                    .push_pair(key.to_string(), value.to_string())?;
            }
            other => return Err(format!("-D connect {other}: not supported").into()),
        }
    }
    Ok(())
}

fn check_command(command: &str) -> Result<(), Error> {
    match command {
        "connect" | "publish" => Ok(()),
        other => {
            Err(format!("-D {other}: only connect and publish properties are supported").into())
        }
    }
}

/// Applies the `publish` properties to a message's properties.
pub fn apply_publish(flat: &[String], properties: &mut PublishProperties) -> Result<(), Error> {
    for (command, name, values) in entries(flat)? {
        if command != "publish" {
            continue;
        }
        match name {
            "content-type" => properties
                .set_content_type(Some(MqttString::new(single(name, values)?.to_string())?))?,
            "response-topic" => properties
                .set_response_topic(Some(TopicName::new(single(name, values)?.to_string())?))?,
            "correlation-data" => properties
                .set_correlation_data(Some(single(name, values)?.as_bytes().to_vec().into()))?,
            "message-expiry-interval" => {
                properties.message_expiry_interval = Some(number(name, values)?)
            }
            "payload-format-indicator" => {
                properties.payload_format_indicator = Some(match number::<u8>(name, values)? {
                    0 => PayloadFormat::Unspecified,
                    _ => PayloadFormat::Utf8,
                })
            }
            "user-property" => {
                let (key, value) = pair(values)?;
                properties.push_user_property(key.to_string(), value.to_string())?;
            }
            other => return Err(format!("-D publish {other}: not supported").into()),
        }
    }
    Ok(())
}
