guestbook-title = Guest book
guestbook-sign = Sign
guestbook-count = { $count ->
    [one] { $count } signature
   *[other] { $count } signatures
}
