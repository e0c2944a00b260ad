// A small XML tree for one stanza: names, namespaces, ordered attributes, element and text children.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chinwag::xmpp {

// Namespaces used throughout the wire layer.
inline constexpr std::string_view ns_client = "jabber:client";
inline constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view ns_xml = "http://www.w3.org/XML/1998/namespace";

// Escapes & < > ' " for text and attribute values. Characters XML 1.0 cannot carry at all
// (most C0 controls, U+FFFE/U+FFFF) and invalid UTF-8 become U+FFFD, so the output is
// always well-formed. With `attribute`, tab/CR/LF become character references so that
// attribute-value normalisation (XML 1.0 §3.3.3) does not turn them into spaces.
std::string escape_xml(std::string_view text, bool attribute = false);

// True if `text` is valid UTF-8 made only of XML 1.0 Chars (§2.2: #x9 | #xA | #xD |
// [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]).
bool is_xml_text(std::string_view text);

// One XML element of a stanza, or (internally) a text node. Owns its attributes and children.
class Element {
public:
    Element(std::string name, std::string ns = {});

    const std::string& name() const { return name_; }
    const std::string& ns() const { return ns_; }

    // Attribute names are as written on the wire ("id", "xml:lang"). Ordered; no duplicates:
    // set_attr on an existing name replaces its value in place.
    std::string attr(std::string_view name) const;
    bool has_attr(std::string_view name) const;
    Element& set_attr(std::string name, std::string value);
    const std::vector<std::pair<std::string, std::string>>& attrs() const { return attrs_; }

    // Returns the added child. The reference is valid until this element gets another child.
    // A child without a namespace takes this element's (as an unprefixed child does in XML).
    Element& add_child(Element child);
    // Returns *this. Adjacent text is merged into one text node.
    Element& add_text(std::string text);

    // First element child with this local name; an empty ns matches any namespace.
    const Element* child(std::string_view name, std::string_view ns = {}) const;
    Element* child(std::string_view name, std::string_view ns = {});
    // Element children only, in document order.
    std::vector<const Element*> children() const;
    // Concatenated direct text children (not descendants).
    std::string text() const;

    // Well-formed XML. xmlns='..' is emitted only where the namespace differs from the
    // in-scope default namespace `parent_ns`; serialize("jabber:client") is how a stanza is
    // written inside a stream. Elements in the streams namespace are written with the
    // `stream:` prefix that the stream header declares (RFC 6120 §4.8.5).
    std::string serialize() const { return serialize(std::string_view{}); }
    std::string serialize(std::string_view parent_ns) const;

    bool operator==(const Element& other) const;

private:
    struct TextTag {};
    Element(TextTag, std::string text);
    void inherit_ns(const std::string& ns);
    void write(std::string& out, std::string_view parent_ns) const;

    bool is_text_ = false;
    std::string name_;  // for a text node: the text
    std::string ns_;
    std::vector<std::pair<std::string, std::string>> attrs_;
    std::vector<Element> nodes_;  // element and text children in document order
};

}  // namespace chinwag::xmpp
