// The outbox state machine: every state against every event, and the resend rule.
#include <check.h>
#include <cstdlib>

#include "sync/outbox.hpp"

using chinwag::model::Direction;
using chinwag::model::Message;
using chinwag::model::MessageState;
using chinwag::sync::next_state;
using chinwag::sync::OutboxEvent;
using chinwag::sync::should_send;

START_TEST(test_forward_path)
{
    ck_assert(next_state(MessageState::Queued, OutboxEvent::Written) == MessageState::Sent);
    ck_assert(next_state(MessageState::Sent, OutboxEvent::Receipt) == MessageState::Delivered);
    // A receipt may overtake the write completion (fast peer): straight to delivered.
    ck_assert(next_state(MessageState::Queued, OutboxEvent::Receipt) == MessageState::Delivered);
}
END_TEST

START_TEST(test_final_states_stay)
{
    for (auto e : {OutboxEvent::Written, OutboxEvent::Receipt, OutboxEvent::Rejected}) {
        ck_assert(!next_state(MessageState::Delivered, e).has_value());
        ck_assert(!next_state(MessageState::Failed, e).has_value());
    }
    ck_assert(!next_state(MessageState::Sent, OutboxEvent::Written).has_value());
}
END_TEST

START_TEST(test_rejection_fails)
{
    ck_assert(next_state(MessageState::Queued, OutboxEvent::Rejected) == MessageState::Failed);
    ck_assert(next_state(MessageState::Sent, OutboxEvent::Rejected) == MessageState::Failed);
}
END_TEST

START_TEST(test_resend_rule)
{
    Message m;
    m.direction = Direction::Outgoing;
    m.state = MessageState::Queued;
    ck_assert(should_send(m, false, false));
    ck_assert(should_send(m, true, false));
    ck_assert(!should_send(m, false, true));
    m.state = MessageState::Sent;  // written on an earlier stream, no receipt yet
    ck_assert(should_send(m, false, false));
    ck_assert(!should_send(m, true, false));  // legacy: never repeated
    m.state = MessageState::Delivered;
    ck_assert(!should_send(m, false, false));
    m.state = MessageState::Failed;
    ck_assert(!should_send(m, false, false));
    m.state = MessageState::Queued;
    m.direction = Direction::Incoming;
    ck_assert(!should_send(m, false, false));
}
END_TEST

int main()
{
    Suite* s = suite_create("outbox");
    TCase* tc = tcase_create("state machine");
    tcase_add_test(tc, test_forward_path);
    tcase_add_test(tc, test_final_states_stay);
    tcase_add_test(tc, test_rejection_fails);
    tcase_add_test(tc, test_resend_rule);
    suite_add_tcase(s, tc);
    SRunner* sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
