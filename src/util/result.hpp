// Result<T>: an expected value or an Error, for failures that are part of normal operation.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace chinwag {

// A failure a caller can act on: a short machine-readable code and a sentence for people.
struct Error {
    std::string code;     // e.g. "locked", "io", "tls", "not-found", "invalid"
    std::string message;  // plain words, safe to show and to log (never secrets)
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool failed_ = false;
};

inline Error make_error(std::string code, std::string message)
{
    return Error{std::move(code), std::move(message)};
}

}  // namespace chinwag
