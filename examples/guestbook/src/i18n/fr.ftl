guestbook-title = Livre d'or
guestbook-sign = Signer
guestbook-count = { $count ->
    [one] { $count } signature
   *[other] { $count } signatures
}
