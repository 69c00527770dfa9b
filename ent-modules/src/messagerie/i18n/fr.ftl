messagerie-title = Messagerie
messagerie-inbox = Boîte de réception
messagerie-sent = Messages envoyés
messagerie-trash = Corbeille
messagerie-drafts = Brouillons
messagerie-unread = { $count ->
    [0] Aucun message non lu
    [one] Un message non lu
   *[other] { $count } messages non lus
}
messagerie-excluded = { $count ->
    [one] Un destinataire est exclu par les règles de communication.
   *[other] { $count } destinataires sont exclus par les règles de communication.
}
messagerie-send-allowed = Envoyer aux { $count } autres destinataires
messagerie-recalled = Message rappelé par son expéditeur
messagerie-reason-unknown = Destinataire inconnu.
messagerie-reason-disabled = Ce compte est désactivé.
messagerie-reason-not_in_structure = Cette personne n'appartient pas à votre établissement.
messagerie-reason-not_related = Les règles de communication ne vous permettent pas d'écrire à ce destinataire.
messagerie-reason-pupil_teacher_closed = L'établissement a fermé les échanges entre élèves et enseignants.
messagerie-reason-pupil_pupil_closed = L'établissement a fermé les échanges entre élèves.
messagerie-reason-parent_parent_closed = Les parents ne peuvent pas écrire aux autres parents.
messagerie-reason-outside_opening_hours = La messagerie est fermée à cette heure (droit à la déconnexion).
messagerie-reason-no_sender_profile = Votre profil ne permet pas d'envoyer de messages.
