#include "xmpp/element.hpp"

#include <cstdint>

namespace chinwag::xmpp {

namespace {

// Decodes one UTF-8 sequence at s[i]. Returns the code point and advances i, or returns
// -1 and advances i by one byte for an invalid, overlong, surrogate or truncated sequence.
long decode_utf8(std::string_view s, std::size_t& i)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    int len = 0;
    long cp = 0;
    long min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2; cp = b0 & 0x1F; min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3; cp = b0 & 0x0F; min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4; cp = b0 & 0x07; min = 0x10000;
    } else {
        ++i;
        return -1;
    }
    if (i + len > s.size()) {
        ++i;
        return -1;
    }
    for (int k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return -1;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return -1;
    }
    i += len;
    return cp;
}

// XML 1.0 §2.2 Char production.
bool is_xml_char(long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

}  // namespace

std::string escape_xml(std::string_view text, bool attribute)
{
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t start = i;
        const long cp = decode_utf8(text, i);
        if (cp < 0 || !is_xml_char(cp)) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            continue;
        }
        switch (cp) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        // A literal CR is turned into LF by end-of-line handling (XML 1.0 §2.11).
        case '\r': out += "&#13;"; break;
        case '\t': out += attribute ? "&#9;" : "\t"; break;
        case '\n': out += attribute ? "&#10;" : "\n"; break;
        default: out.append(text.substr(start, i - start));
        }
    }
    return out;
}

bool is_xml_text(std::string_view text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const long cp = decode_utf8(text, i);
        if (cp < 0 || !is_xml_char(cp))
            return false;
    }
    return true;
}

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

Element::Element(TextTag, std::string text) : is_text_(true), name_(std::move(text)) {}

std::string Element::attr(std::string_view name) const
{
    for (const auto& [k, v] : attrs_)
        if (k == name)
            return v;
    return {};
}

bool Element::has_attr(std::string_view name) const
{
    for (const auto& a : attrs_)
        if (a.first == name)
            return true;
    return false;
}

Element& Element::set_attr(std::string name, std::string value)
{
    for (auto& a : attrs_) {
        if (a.first == name) {
            a.second = std::move(value);
            return *this;
        }
    }
    attrs_.emplace_back(std::move(name), std::move(value));
    return *this;
}

void Element::inherit_ns(const std::string& ns)
{
    if (is_text_ || !ns_.empty())
        return;
    ns_ = ns;
    for (auto& n : nodes_)
        n.inherit_ns(ns_);
}

Element& Element::add_child(Element child)
{
    if (!ns_.empty())
        child.inherit_ns(ns_);
    nodes_.push_back(std::move(child));
    return nodes_.back();
}

Element& Element::add_text(std::string text)
{
    if (text.empty())
        return *this;
    if (!nodes_.empty() && nodes_.back().is_text_)
        nodes_.back().name_ += text;
    else
        nodes_.push_back(Element(TextTag{}, std::move(text)));
    return *this;
}

const Element* Element::child(std::string_view name, std::string_view ns) const
{
    for (const auto& n : nodes_)
        if (!n.is_text_ && n.name_ == name && (ns.empty() || n.ns_ == ns))
            return &n;
    return nullptr;
}

Element* Element::child(std::string_view name, std::string_view ns)
{
    return const_cast<Element*>(static_cast<const Element*>(this)->child(name, ns));
}

std::vector<const Element*> Element::children() const
{
    std::vector<const Element*> out;
    for (const auto& n : nodes_)
        if (!n.is_text_)
            out.push_back(&n);
    return out;
}

std::string Element::text() const
{
    std::string out;
    for (const auto& n : nodes_)
        if (n.is_text_)
            out += n.name_;
    return out;
}

std::string Element::serialize(std::string_view parent_ns) const
{
    std::string out;
    write(out, parent_ns);
    return out;
}

void Element::write(std::string& out, std::string_view parent_ns) const
{
    if (is_text_) {
        out += escape_xml(name_);
        return;
    }
    std::string_view scope = parent_ns;
    std::string qname;
    out += '<';
    if (ns_ == ns_streams || ns_ == ns_xml) {
        // The stream header binds stream:, and xml: is bound by definition (Namespaces in
        // XML 1.0 §3), which also forbids declaring it as a default namespace; the default
        // namespace is unchanged.
        qname = (ns_ == ns_streams ? "stream:" : "xml:") + name_;
        out += qname;
    } else {
        qname = name_;
        out += qname;
        if (ns_ != parent_ns) {
            out += " xmlns='";
            out += escape_xml(ns_, true);
            out += '\'';
            scope = ns_;
        }
    }
    int prefix_no = 0;
    for (const auto& [k, v] : attrs_) {
        out += ' ';
        // "{uri}local" is how the parser keeps an attribute in a namespace other than xml:.
        // The URI may hold '}', a local name cannot (XML 1.0 §2.3 NameChar): cut at the last.
        if (k.size() > 1 && k[0] == '{' && k.find('}') != std::string::npos) {
            const auto close = k.rfind('}');
            const std::string prefix = "ns" + std::to_string(prefix_no++);
            out += "xmlns:" + prefix + "='" + escape_xml(k.substr(1, close - 1), true) + "' ";
            out += prefix + ":" + k.substr(close + 1);
        } else {
            out += k;
        }
        out += "='";
        out += escape_xml(v, true);
        out += '\'';
    }
    if (nodes_.empty()) {
        out += "/>";
        return;
    }
    out += '>';
    for (const auto& n : nodes_)
        n.write(out, scope);
    out += "</";
    out += qname;
    out += '>';
}

bool Element::operator==(const Element& other) const
{
    return is_text_ == other.is_text_ && name_ == other.name_ && ns_ == other.ns_ &&
           attrs_ == other.attrs_ && nodes_ == other.nodes_;
}

}  // namespace chinwag::xmpp
