messagerie-title = Messages
messagerie-inbox = Inbox
messagerie-sent = Sent
messagerie-trash = Trash
messagerie-drafts = Drafts
messagerie-unread = { $count ->
    [0] No unread message
    [one] One unread message
   *[other] { $count } unread messages
}
messagerie-excluded = { $count ->
    [one] One recipient is excluded by the communication rules.
   *[other] { $count } recipients are excluded by the communication rules.
}
messagerie-send-allowed = Send to the { $count } other recipients
messagerie-recalled = Message recalled by its sender
messagerie-reason-unknown = Unknown recipient.
messagerie-reason-disabled = This account is disabled.
messagerie-reason-not_in_structure = This person is not in your structure.
messagerie-reason-not_related = The communication rules do not let you write to this recipient.
messagerie-reason-pupil_teacher_closed = The structure closed messages between pupils and teachers.
messagerie-reason-pupil_pupil_closed = The structure closed messages between pupils.
messagerie-reason-parent_parent_closed = Parents may not write to other parents.
messagerie-reason-outside_opening_hours = Messaging is closed at this time (right to disconnect).
messagerie-reason-no_sender_profile = Your profile may not send messages.
