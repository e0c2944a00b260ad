// Turns the bytes of one incoming XMPP stream into events; never touches a socket.
#pragma once

#include "xmpp/element.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct XML_ParserStruct;

namespace chinwag::xmpp {

struct StreamOpen {
    std::string from, to, id, version, lang;
    bool operator==(const StreamOpen&) const = default;
};

struct StreamClose {
    bool operator==(const StreamClose&) const = default;
};

// condition is an RFC 6120 §4.9.3 stream error condition name, ready for stream_error().
struct StreamFault {
    std::string condition;
    std::string detail;  // for logs; never contains stanza content
    bool operator==(const StreamFault&) const = default;
};

using Event = std::variant<StreamOpen, Element, StreamClose, StreamFault>;

// Owns one expat parser and the stanza being assembled. Memory stays bounded by the limits
// whatever the peer sends.
class StreamParser {
public:
    struct Limits {
        std::size_t max_stanza_bytes = 64 * 1024;  // one stanza, or bytes pending between stanzas
        int max_depth = 24;                        // stream root is depth 0, stanzas depth 1
    };

    StreamParser();
    explicit StreamParser(Limits limits);
    ~StreamParser();
    StreamParser(const StreamParser&) = delete;
    StreamParser& operator=(const StreamParser&) = delete;

    // All events completed by these bytes, in order. A fault is returned once; afterwards,
    // and after the stream closed, feed() returns nothing until reset().
    std::vector<Event> feed(std::string_view bytes);

    // Starts a fresh stream, e.g. after STARTTLS (RFC 6120 §5.4.3.3) where both sides open
    // new streams over the TLS layer and discard everything parsed before.
    void reset();

    bool failed() const { return failed_; }
    bool closed() const { return closed_; }

private:
    struct ParserFree {
        void operator()(XML_ParserStruct* p) const;
    };

    // The static expat callbacks forward to these; they never throw.
    void on_start(const char* name, const char** atts);
    void on_end(const char* name);
    void on_text(const char* s, int len);
    void on_xml_decl(const char* encoding);
    void fail(std::string condition, std::string detail);

    static void start_cb(void* self, const char* name, const char** atts) noexcept;
    static void end_cb(void* self, const char* name) noexcept;
    static void text_cb(void* self, const char* s, int len) noexcept;
    static void xml_decl_cb(void* self, const char* version, const char* encoding, int standalone) noexcept;
    static void doctype_cb(void* self, const char* name, const char* sysid, const char* pubid,
                           int has_internal_subset) noexcept;
    static void entity_cb(void* self, const char* name, int is_param, const char* value,
                          int value_len, const char* base, const char* sysid, const char* pubid,
                          const char* notation) noexcept;
    static void pi_cb(void* self, const char* target, const char* data) noexcept;
    static void comment_cb(void* self, const char* data) noexcept;

    void create_parser();
    std::int64_t byte_index() const;
    std::int64_t event_end() const;

    Limits limits_;
    std::unique_ptr<XML_ParserStruct, ParserFree> parser_;
    std::vector<Event> events_;                // produced by the current feed()
    std::string pending_;                      // received bytes not yet given to expat
    bool in_markup_ = false;                   // last '<' received has no '>' after it
    std::optional<Element> stanza_;            // the depth-1 element being assembled
    std::vector<Element*> open_;               // open elements inside stanza_, innermost last
    int depth_ = 0;                            // elements open, including the stream root
    std::int64_t fed_ = 0;                     // bytes received since the stream began
    std::int64_t segment_start_ = 0;           // where the current stanza or gap began
    bool failed_ = false;
    bool closed_ = false;
};

}  // namespace chinwag::xmpp
