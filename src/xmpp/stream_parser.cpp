#include "config.h"
#include "xmpp/stream_parser.hpp"

#include <expat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

namespace chinwag::xmpp {

namespace {

// Separates namespace URI and local name in names expat reports. U+0001 is not an XML
// Char (XML 1.0 §2.2), not even as a character reference, so it cannot occur in a URI.
constexpr char ns_sep = '\x01';

// Expat is given at most this many bytes per call, so the stanza-size check runs often
// enough that an unterminated token never buffers more than max_stanza_bytes + this.
constexpr std::size_t slice_bytes = 4096;

struct QName {
    std::string ns;
    std::string local;
};

QName split_name(const char* name)
{
    const char* sep = std::strchr(name, ns_sep);
    if (!sep)
        return {{}, name};
    return {std::string(name, sep), std::string(sep + 1)};
}

// Attribute names as written on the wire: "xml:lang" for the xml namespace, "{uri}local"
// for any other namespace (Element::serialize declares a prefix for those).
std::string attr_name(const char* name)
{
    QName q = split_name(name);
    if (q.ns.empty())
        return q.local;
    if (q.ns == ns_xml)
        return "xml:" + q.local;
    return "{" + q.ns + "}" + q.local;
}

bool is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

void StreamParser::ParserFree::operator()(XML_ParserStruct* p) const
{
    XML_ParserFree(p);
}

StreamParser::StreamParser() : StreamParser(Limits{}) {}

StreamParser::StreamParser(Limits limits) : limits_(limits)
{
    create_parser();
}

StreamParser::~StreamParser() = default;

void StreamParser::create_parser()
{
    // The protocol encoding overrides any declared one: XMPP is UTF-8 only (RFC 6120 §11.6).
    parser_.reset(XML_ParserCreateNS("UTF-8", ns_sep));
    if (!parser_)
        return;
    XML_Parser p = parser_.get();
    XML_SetUserData(p, this);
    XML_SetElementHandler(p, &StreamParser::start_cb, &StreamParser::end_cb);
    XML_SetCharacterDataHandler(p, &StreamParser::text_cb);
    XML_SetXmlDeclHandler(p, &StreamParser::xml_decl_cb);
    // RFC 6120 §11.1: comments, processing instructions, internal or external DTD subsets and
    // entity declarations are restricted XML.
    XML_SetStartDoctypeDeclHandler(p, &StreamParser::doctype_cb);
    XML_SetEntityDeclHandler(p, &StreamParser::entity_cb);
    XML_SetProcessingInstructionHandler(p, &StreamParser::pi_cb);
    XML_SetCommentHandler(p, &StreamParser::comment_cb);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    // Reparse deferral (expat 2.6, backported by Debian into libexpat1 2.5.0-1+deb12u2) holds
    // back a finished tag until more bytes arrive; on an interactive stream the peer waits for
    // our answer to that very tag. feed() bounds rescanning itself. An expat without the call
    // has no deferral to turn off (configure checks for the declaration).
#if HAVE_DECL_XML_SETREPARSEDEFERRALENABLED
    XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
    XML_SetStartNamespaceDeclHandler(p, [](void* self, const char* prefix, const char* uri) noexcept {
        auto* sp = static_cast<StreamParser*>(self);
        // RFC 6120 §4.8.2: the stream's default (content) namespace must be one we serve.
        if (sp->depth_ == 0 && !prefix && uri && ns_client != uri)
            sp->fail("invalid-namespace", "unsupported content namespace");
    });
}

void StreamParser::reset()
{
    events_.clear();
    pending_.clear();
    in_markup_ = false;
    stanza_.reset();
    open_.clear();
    depth_ = 0;
    fed_ = 0;
    segment_start_ = 0;
    failed_ = false;
    closed_ = false;
    create_parser();
}

std::int64_t StreamParser::byte_index() const
{
    return static_cast<std::int64_t>(XML_GetCurrentByteIndex(parser_.get()));
}

std::int64_t StreamParser::event_end() const
{
    return byte_index() + XML_GetCurrentByteCount(parser_.get());
}

void StreamParser::fail(std::string condition, std::string detail)
{
    if (failed_ || closed_)
        return;
    failed_ = true;
    events_.push_back(StreamFault{std::move(condition), std::move(detail)});
    if (parser_)
        XML_StopParser(parser_.get(), XML_FALSE);
}

std::vector<Event> StreamParser::feed(std::string_view bytes)
{
    events_.clear();
    if (failed_ || closed_)
        return {};
    if (!parser_) {
        fail("resource-constraint", "cannot create XML parser");
        return std::move(events_);
    }
    const auto max = static_cast<std::int64_t>(limits_.max_stanza_bytes);
    std::size_t pos = 0;
    while (pos < bytes.size() && !failed_ && !closed_) {
        const std::string_view piece = bytes.substr(pos, std::min(slice_bytes, bytes.size() - pos));
        pos += piece.size();
        fed_ += static_cast<std::int64_t>(piece.size());
        // Every event we report ends with '>'. While the peer is inside a tag ('<' seen, no
        // '>' yet) expat could only rescan the same unfinished token, so those bytes wait
        // here: a peer trickling bytes cannot make the work quadratic. Text and whitespace
        // keepalives go through at once. Only timing depends on this guess, never results.
        const auto lt = piece.rfind('<');
        const auto gt = piece.rfind('>');
        if (lt != std::string_view::npos && (gt == std::string_view::npos || gt < lt))
            in_markup_ = true;
        else if (gt != std::string_view::npos)
            in_markup_ = false;
        std::string_view input = piece;
        if (in_markup_ && gt == std::string_view::npos) {
            pending_.append(piece);
            input = {};
        } else if (!pending_.empty()) {
            pending_.append(piece);
            input = pending_;
        }
        const XML_Status status =
            input.empty() ? XML_STATUS_OK
                          : XML_Parse(parser_.get(), input.data(), static_cast<int>(input.size()),
                                      XML_FALSE);
        if (!input.empty())
            pending_.clear();
        if (status == XML_STATUS_ERROR) {
            if (failed_ || closed_)
                break;  // stopped by one of our handlers
            const XML_Error code = XML_GetErrorCode(parser_.get());
            std::string detail = std::string(XML_ErrorString(code)) + " at line " +
                                 std::to_string(XML_GetCurrentLineNumber(parser_.get())) +
                                 " column " +
                                 std::to_string(XML_GetCurrentColumnNumber(parser_.get()));
            switch (code) {
            case XML_ERROR_UNDEFINED_ENTITY:
            case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
            case XML_ERROR_PARAM_ENTITY_REF:
                fail("restricted-xml", std::move(detail));  // RFC 6120 §11.1
                break;
            case XML_ERROR_UNKNOWN_ENCODING:
            case XML_ERROR_INCORRECT_ENCODING:
                fail("unsupported-encoding", std::move(detail));
                break;
            case XML_ERROR_UNBOUND_PREFIX:
                fail("bad-namespace-prefix", std::move(detail));
                break;
            case XML_ERROR_NO_MEMORY:
                fail("resource-constraint", std::move(detail));
                break;
            default:
                fail("not-well-formed", std::move(detail));
            }
            break;
        }
        // Bytes since the current stanza (or the gap before the next one) began, including
        // whatever expat holds of an unfinished token. Checking after every slice bounds the
        // memory an endless tag or attribute can take.
        if (!failed_ && !closed_ && fed_ - segment_start_ > max)
            fail("policy-violation", "stanza larger than " + std::to_string(max) + " bytes");
    }
    return std::move(events_);
}

void StreamParser::on_xml_decl(const char* encoding)
{
    // RFC 6120 §11.6: UTF-8 only. The declaration is the one PI-like construct allowed.
    if (encoding && !iequals(encoding, "UTF-8"))
        fail("unsupported-encoding", std::string("declared encoding ") + encoding);
}

void StreamParser::on_start(const char* name, const char** atts)
{
    if (failed_ || closed_)
        return;
    ++depth_;
    QName q = split_name(name);
    if (depth_ == 1) {
        // RFC 6120 §4.8.1: the root is <stream> in the streams namespace.
        if (q.ns != ns_streams) {
            fail("invalid-namespace", "root element not in the streams namespace");
            return;
        }
        if (q.local != "stream") {
            fail("bad-format", "root element is not <stream>");
            return;
        }
        StreamOpen open;
        for (const char** a = atts; a && *a; a += 2) {
            const std::string n = attr_name(a[0]);
            if (n == "from") open.from = a[1];
            else if (n == "to") open.to = a[1];
            else if (n == "id") open.id = a[1];
            else if (n == "version") open.version = a[1];
            else if (n == "xml:lang") open.lang = a[1];
        }
        events_.push_back(std::move(open));
        segment_start_ = event_end();
        return;
    }
    if (depth_ - 1 > limits_.max_depth) {
        fail("policy-violation", "elements nested deeper than " + std::to_string(limits_.max_depth));
        return;
    }
    if (depth_ == 2) {
        segment_start_ = byte_index();
        // Top-level elements without a namespace are in the stream's content namespace.
        stanza_.emplace(std::move(q.local), q.ns.empty() ? std::string(ns_client) : std::move(q.ns));
        open_.assign(1, &*stanza_);
    } else {
        Element& c = open_.back()->add_child(Element(std::move(q.local), std::move(q.ns)));
        open_.push_back(&c);
    }
    Element& e = *open_.back();
    for (const char** a = atts; a && *a; a += 2)
        e.set_attr(attr_name(a[0]), a[1]);
    if (byte_index() - segment_start_ > static_cast<std::int64_t>(limits_.max_stanza_bytes))
        fail("policy-violation", "stanza too large");
}

void StreamParser::on_end(const char* name)
{
    if (failed_ || closed_)
        return;
    if (depth_ == 1) {
        events_.push_back(StreamClose{});
        closed_ = true;
        depth_ = 0;
        // RFC 6120 §4.4: nothing after </stream:stream> belongs to this stream.
        XML_StopParser(parser_.get(), XML_FALSE);
        return;
    }
    if (depth_ == 2) {
        const std::int64_t end = event_end();
        if (end - segment_start_ > static_cast<std::int64_t>(limits_.max_stanza_bytes)) {
            fail("policy-violation", "stanza too large");
            return;
        }
        events_.push_back(std::move(*stanza_));
        stanza_.reset();
        open_.clear();
        segment_start_ = end;
    } else {
        open_.pop_back();
    }
    --depth_;
}

void StreamParser::on_text(const char* s, int len)
{
    if (failed_ || closed_)
        return;
    if (depth_ >= 2) {
        open_.back()->add_text(std::string(s, static_cast<std::size_t>(len)));
        return;
    }
    // RFC 6120 §4.6.1: only whitespace (keepalives) may sit between stanzas.
    if (!std::all_of(s, s + len, is_xml_space)) {
        fail("bad-format", "text between stanzas");
        return;
    }
    segment_start_ = event_end();
}

void StreamParser::start_cb(void* self, const char* name, const char** atts) noexcept
{
    auto* sp = static_cast<StreamParser*>(self);
    try {
        sp->on_start(name, atts);
    } catch (...) {
        sp->fail("resource-constraint", "out of memory");
    }
}

void StreamParser::end_cb(void* self, const char* name) noexcept
{
    auto* sp = static_cast<StreamParser*>(self);
    try {
        sp->on_end(name);
    } catch (...) {
        sp->fail("resource-constraint", "out of memory");
    }
}

void StreamParser::text_cb(void* self, const char* s, int len) noexcept
{
    auto* sp = static_cast<StreamParser*>(self);
    try {
        sp->on_text(s, len);
    } catch (...) {
        sp->fail("resource-constraint", "out of memory");
    }
}

void StreamParser::xml_decl_cb(void* self, const char*, const char* encoding, int) noexcept
{
    auto* sp = static_cast<StreamParser*>(self);
    try {
        sp->on_xml_decl(encoding);
    } catch (...) {
        sp->fail("resource-constraint", "out of memory");
    }
}

void StreamParser::doctype_cb(void* self, const char*, const char*, const char*, int) noexcept
{
    static_cast<StreamParser*>(self)->fail("restricted-xml", "DOCTYPE");
}

void StreamParser::entity_cb(void* self, const char*, int, const char*, int, const char*,
                             const char*, const char*, const char*) noexcept
{
    static_cast<StreamParser*>(self)->fail("restricted-xml", "entity declaration");
}

void StreamParser::pi_cb(void* self, const char*, const char*) noexcept
{
    static_cast<StreamParser*>(self)->fail("restricted-xml", "processing instruction");
}

void StreamParser::comment_cb(void* self, const char*) noexcept
{
    static_cast<StreamParser*>(self)->fail("restricted-xml", "comment");
}

}  // namespace chinwag::xmpp
