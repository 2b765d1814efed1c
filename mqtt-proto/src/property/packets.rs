//! The properties of each packet but PUBLISH: one struct per packet, listing exactly the
//! properties that packet may carry, declared with the `properties!` macro.

use bytes::{BufMut, Bytes};
use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

use super::{
    read_block, PayloadFormat, PropertyId, PropertyOrder, PropertyValue, SubscriptionIdentifier,
    SubscriptionIdentifiers, UserProperties, UserProperty,
};
use crate::error::{EncodeError, Error};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::wire::{put_varint, Reader, MAX_VARINT};
use crate::QoS;

/// Declares the properties of one packet: the single-valued ones as `Option`s, the repeatable
/// ones as lists, with the decoding, length and encoding that follow from the list.
macro_rules! properties {
    (
        $(#[$meta:meta])*
        $name:ident ($context:literal) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $id:ident, )*
        }
        lists { $( $(#[$lmeta:meta])* $lfield:ident : $lty:ident, )* }
    ) => {
        $(#[$meta])*
        ///
        /// Decoded properties remember the order they arrived in and are encoded again in that
        /// order, so a packet passes through byte for byte; properties set by hand follow.
        #[derive(Clone, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $(#[$lmeta])* pub $lfield: $lty, )*
            /// The order the properties arrived in, which encoding follows; leave it
            /// `Default::default()` when building properties.
            pub received_order: PropertyOrder,
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                true $( && self.$field == other.$field )* $( && self.$lfield == other.$lfield )*
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $( if let Some(v) = &self.$field {
                    d.field(stringify!($field), v);
                } )*
                $( if !self.$lfield.is_empty() {
                    d.field(stringify!($lfield), &self.$lfield);
                } )*
                d.finish()
            }
        }

        impl $name {
            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$lfield.is_empty() )*
            }

            pub(crate) fn read(r: &mut Reader) -> Result<Self, Error> {
                let mut this = Self::default();
                let block = read_block(r, |id, entry_len, value| {
                    let _ = entry_len;
                    match id {
                        $( PropertyId::$id => {
                            // "It is a Protocol Error to include <property> more than once"
                            // (each property's section of chapter 3).
                            if this.$field.is_some() {
                                return Err(Error::DuplicateProperty(id));
                            }
                            this.$field = Some(<$ty as PropertyValue>::read(value, id)?);
                        } )*
                        $( _ if id == <$lty as ListItem>::ID => {
                            <$lty as ListItem>::Item::validate(value, id)?;
                            this.$lfield.0.note_entry(entry_len);
                        } )*
                        // v5 2.2.2.2: "A Control Packet which contains an Identifier which
                        // is not valid for its packet type ... is a Malformed Packet."
                        _ => return Err(Error::PropertyNotAllowed { context: $context, property: id }),
                    }
                    this.received_order.note(id);
                    Ok(())
                })?;
                if let Some(block) = &block {
                    $( this.$lfield.0.attach(block); )*
                }
                Ok(this)
            }

            /// The length of the properties, without the Property Length in front.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                let mut len = 0;
                $( if let Some(v) = &self.$field {
                    len += 1 + PropertyValue::encoded_len(v)?;
                } )*
                $( len += self.$lfield.encoded_len(); )*
                if len > MAX_VARINT as usize {
                    return Err(EncodeError::PacketTooLarge(len));
                }
                Ok(len)
            }

            /// Writes the one property (or list) with identifier `id`, if set.
            fn write_one<B: BufMut>(&self, id: PropertyId, buf: &mut B) {
                match id {
                    $( PropertyId::$id => if let Some(v) = &self.$field {
                        buf.put_u8(PropertyId::$id as u8);
                        PropertyValue::write(v, buf);
                    }, )*
                    $( _ if id == <$lty as ListItem>::ID => self.$lfield.write(buf), )*
                    _ => {}
                }
            }

            /// Writes the Property Length, present even when zero [MQTT-2.2.2-1], and the properties;
            /// `len` is [`Self::encoded_len`].
            pub(crate) fn write<B: BufMut>(&self, len: usize, buf: &mut B) {
                put_varint(buf, len);
                if len == 0 {
                    return;
                }
                // Built by hand: no received order to follow.
                if self.received_order.is_empty() {
                    $( self.write_one(PropertyId::$id, buf); )*
                    $( self.$lfield.write(buf); )*
                    return;
                }
                for id in self.received_order.ids() {
                    self.write_one(id, buf);
                }
                $( if !self.received_order.contains(PropertyId::$id) {
                    self.write_one(PropertyId::$id, buf);
                } )*
                $( if !self.received_order.contains(<$lty as ListItem>::ID) {
                    self.$lfield.write(buf);
                } )*
            }
        }
    };
}

/// Links a list type to its identifier and item type, for the `properties!` macro.
trait ListItem {
    const ID: PropertyId;
    type Item: PropertyValue;
}

impl ListItem for UserProperties {
    const ID: PropertyId = PropertyId::UserProperty;
    type Item = UserProperty;
}

impl ListItem for SubscriptionIdentifiers {
    const ID: PropertyId = PropertyId::SubscriptionIdentifier;
    type Item = SubscriptionIdentifier;
}

properties! {
    /// Properties of CONNECT (section 3.1.2.11).
    ConnectProperties ("CONNECT") {
        /// Session Expiry Interval in seconds; absent means 0 (3.1.2.11.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum: how many QoS 1 and 2 publishes the client accepts at once
        /// (3.1.2.11.3).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum Packet Size the client accepts (3.1.2.11.4).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Topic Alias Maximum the client accepts (3.1.2.11.5).
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Request Response Information (3.1.2.11.6).
        request_response_information: bool = RequestResponseInformation,
        /// Request Problem Information (3.1.2.11.7).
        request_problem_information: bool = RequestProblemInformation,
        /// Authentication Method for enhanced authentication (3.1.2.11.9).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.1.2.11.10).
        authentication_data: Bytes = AuthenticationData,
    }
    lists {
        /// User Properties (3.1.2.11.8).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of the will in CONNECT's payload (section 3.1.3.2).
    WillProperties ("will properties") {
        /// Will Delay Interval in seconds (3.1.3.2.2).
        will_delay_interval: u32 = WillDelayInterval,
        /// Payload Format Indicator (3.1.3.2.3).
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds (3.1.3.2.4).
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Content Type (3.1.3.2.5).
        content_type: MqttString = ContentType,
        /// Response Topic (3.1.3.2.6).
        response_topic: TopicName = ResponseTopic,
        /// Correlation Data (3.1.3.2.7).
        correlation_data: Bytes = CorrelationData,
    }
    lists {
        /// User Properties (3.1.3.2.8).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of CONNACK (section 3.2.2.3).
    ConnAckProperties ("CONNACK") {
        /// Session Expiry Interval the server uses instead of the client's (3.2.2.3.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the server (3.2.2.3.3); absent means 65,535.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum QoS the server supports (3.2.2.3.4); absent means 2.
        maximum_qos: QoS = MaximumQoS,
        /// Retain Available (3.2.2.3.5); absent means true.
        retain_available: bool = RetainAvailable,
        /// Maximum Packet Size the server accepts (3.2.2.3.6).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Assigned Client Identifier (3.2.2.3.7).
        assigned_client_identifier: MqttString = AssignedClientIdentifier,
        /// Topic Alias Maximum of the server (3.2.2.3.8); absent means 0.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Reason String (3.2.2.3.9).
        reason_string: MqttString = ReasonString,
        /// Wildcard Subscription Available (3.2.2.3.11); absent means true.
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Subscription Identifiers Available (3.2.2.3.12); absent means true.
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Shared Subscription Available (3.2.2.3.13); absent means true.
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// Server Keep Alive, overriding the client's (3.2.2.3.14).
        server_keep_alive: u16 = ServerKeepAlive,
        /// Response Information (3.2.2.3.15).
        response_information: MqttString = ResponseInformation,
        /// Server Reference (3.2.2.3.16).
        server_reference: MqttString = ServerReference,
        /// Authentication Method (3.2.2.3.17).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.2.2.3.18).
        authentication_data: Bytes = AuthenticationData,
    }
    lists {
        /// User Properties (3.2.2.3.10).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK (sections 3.4.2.2,
    /// 3.5.2.2, 3.6.2.2, 3.7.2.2, 3.9.2.1, 3.11.2.1).
    AckProperties ("an acknowledgement") {
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    lists {
        /// User Properties.
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of SUBSCRIBE (section 3.8.2.1).
    SubscribeProperties ("SUBSCRIBE") {
        /// Subscription Identifier (3.8.2.1.2); at most one.
        subscription_identifier: SubscriptionIdentifier = SubscriptionIdentifier,
    }
    lists {
        /// User Properties (3.8.2.1.3).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of UNSUBSCRIBE (section 3.10.2.1).
    UnsubscribeProperties ("UNSUBSCRIBE") {
    }
    lists {
        /// User Properties (3.10.2.1.2).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of DISCONNECT (section 3.14.2.2).
    DisconnectProperties ("DISCONNECT") {
        /// Session Expiry Interval (3.14.2.2.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Reason String (3.14.2.2.3).
        reason_string: MqttString = ReasonString,
        /// Server Reference (3.14.2.2.5).
        server_reference: MqttString = ServerReference,
    }
    lists {
        /// User Properties (3.14.2.2.4).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of AUTH (section 3.15.2.2).
    AuthProperties ("AUTH") {
        /// Authentication Method (3.15.2.2.2).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.15.2.2.3).
        authentication_data: Bytes = AuthenticationData,
        /// Reason String (3.15.2.2.4).
        reason_string: MqttString = ReasonString,
    }
    lists {
        /// User Properties (3.15.2.2.5).
        user_properties: UserProperties,
    }
}
